"""Files `wi migrate --write-manifests` writes: YAML documents (block style, keys in the order
given, as kubectl prints objects) and a shell script, under one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


class ManifestFiles:
    def _path(self, folder: Path, relative: str) -> Path:
        path = folder / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cannot create {path.parent}: {exc.strerror}.",
                              ["Pass a folder you can write to with --write-manifests."]) \
                from None
        return path

    def write(self, folder: Path, relative: str, documents: list[dict[str, Any]]) -> Path:
        import yaml

        path = self._path(folder, relative)
        text = "---\n".join(yaml.safe_dump(d, sort_keys=False, default_flow_style=False)
                            for d in documents)
        return self._write(path, text)

    def write_text(self, folder: Path, relative: str, text: str) -> Path:
        return self._write(self._path(folder, relative), text)

    @staticmethod
    def _write(path: Path, text: str) -> Path:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot write {path}: {exc.strerror}.",
                              ["Pass a folder you can write to with --write-manifests."]) \
                from None
        return path

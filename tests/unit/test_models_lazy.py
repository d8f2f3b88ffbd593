"""``wi_cli.core.models`` imports a submodule on first use (PEP 562, for start-up speed): every
public name resolves to the object its defining module has, whichever submodule is searched
first, exactly as the star imports it replaced."""

import importlib
from typing import TypeVar

import wi_cli.core.models as models


def test_every_public_name_of_every_submodule_resolves_to_one_object() -> None:
    seen: dict[str, object] = {}
    for sub in models.SUBMODULES:
        module = importlib.import_module(f"wi_cli.core.models.{sub}")
        for name in models._exported(module):
            value = getattr(module, name)
            if isinstance(value, TypeVar):  # a module's own T
                continue
            assert seen.setdefault(name, value) is value, f"{name} differs in {sub}"
            assert getattr(models, name) is value, name

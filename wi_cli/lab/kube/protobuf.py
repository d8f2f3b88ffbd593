"""Decoding the Kubernetes protobuf wire form kubectl's typed clients send.

``kubectl create namespace|serviceaccount|configmap|secret|token`` POST
``application/vnd.kubernetes.protobuf`` bodies: the magic ``k8s\\x00`` and a ``runtime.Unknown``
envelope (typeMeta, raw object bytes). The lab decodes the few kinds those commands send into the
JSON shape the rest of the server uses; replies stay JSON (the clients also accept it).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# field number -> (json name, type); types: s=string, i=int (0 omitted), p=pointer int/bool
# (kept even when zero), b=bool (false omitted), t=Time, ms=map<string,string>,
# mb=map<string,bytes> (base64 in JSON), bytes=bytes, "*X"=repeated, other=nested message name
Fields = dict[int, tuple[str, str]]

MESSAGES: dict[str, Fields] = {
    "TypeMeta": {1: ("apiVersion", "s"), 2: ("kind", "s")},
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
                   4: ("selfLink", "s"), 5: ("uid", "s"), 6: ("resourceVersion", "s"),
                   7: ("generation", "i"), 8: ("creationTimestamp", "t"),
                   9: ("deletionTimestamp", "t"), 10: ("deletionGracePeriodSeconds", "p"),
                   11: ("labels", "ms"), 12: ("annotations", "ms"),
                   13: ("ownerReferences", "*OwnerReference"), 14: ("finalizers", "*s")},
    "OwnerReference": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"),
                       5: ("apiVersion", "s"), 6: ("controller", "p"),
                       7: ("blockOwnerDeletion", "p")},
    "ObjectReference": {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"),
                        4: ("uid", "s"), 5: ("apiVersion", "s"), 6: ("resourceVersion", "s"),
                        7: ("fieldPath", "s")},
    "LocalObjectReference": {1: ("name", "s")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"),
                  3: ("status", "NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "*s")},
    "NamespaceStatus": {1: ("phase", "s")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "*ObjectReference"),
                       3: ("imagePullSecrets", "*LocalObjectReference"),
                       4: ("automountServiceAccountToken", "p")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "ms"), 3: ("binaryData", "mb"),
                  4: ("immutable", "p")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "mb"), 3: ("type", "s"),
               4: ("stringData", "ms"), 5: ("immutable", "p")},
    "TokenRequest": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenRequestSpec"),
                     3: ("status", "TokenRequestStatus")},
    "TokenRequestSpec": {1: ("audiences", "*s"), 3: ("boundObjectRef", "BoundObjectReference"),
                         4: ("expirationSeconds", "p")},
    "BoundObjectReference": {1: ("kind", "s"), 2: ("apiVersion", "s"), 3: ("name", "s"),
                             4: ("uid", "s")},
    "TokenRequestStatus": {1: ("token", "s"), 2: ("expirationTimestamp", "t")},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta"),
                                2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"),
                           4: ("version", "s"), 5: ("resource", "s"), 6: ("subresource", "s"),
                           7: ("name", "s")},
    "NonResourceAttributes": {1: ("path", "s"), 2: ("verb", "s")},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta")},
    "Time": {1: ("seconds", "p"), 2: ("nanos", "p")},
    "MapEntry": {1: ("key", "bytes"), 2: ("value", "bytes")},
}


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((number, value))
        elif wire == 2:
            length, i = _varint(buf, i)
            out.append((number, buf[i:i + length]))
            i += length
        elif wire == 1:
            out.append((number, int.from_bytes(buf[i:i + 8], "little")))
            i += 8
        elif wire == 5:
            out.append((number, int.from_bytes(buf[i:i + 4], "little")))
            i += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _time(raw: bytes) -> str | None:
    t = decode_message(raw, "Time")
    if not t.get("seconds"):
        return None
    when = dt.datetime.fromtimestamp(int(t["seconds"]), dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(value: int | bytes, typ: str) -> Any:
    if typ == "s":
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    if typ in ("i", "p"):
        return value
    if typ == "b":
        return bool(value)
    raise ProtobufError(f"not a scalar type {typ}")


def decode_message(buf: bytes, message: str) -> dict[str, Any]:
    spec = MESSAGES[message]
    out: dict[str, Any] = {}
    for number, value in _fields(buf):
        if number not in spec:
            continue
        name, typ = spec[number]
        repeated = typ.startswith("*")
        typ = typ.lstrip("*")
        if typ in ("ms", "mb"):
            entry = decode_message(value, "MapEntry") if isinstance(value, bytes) else {}
            key = entry.get("key", b"").decode("utf-8")
            raw = entry.get("value", b"")
            out.setdefault(name, {})[key] = (raw.decode("utf-8") if typ == "ms"
                                             else base64.b64encode(raw).decode())
            continue
        if typ == "bytes":
            decoded: Any = value
        elif typ == "t":
            decoded = _time(value) if isinstance(value, bytes) else None
        elif typ in MESSAGES:
            decoded = decode_message(value, typ) if isinstance(value, bytes) else {}
        else:
            decoded = _scalar(value, typ)
        if repeated:
            out.setdefault(name, []).append(decoded)
        elif _keep(decoded, typ):
            out[name] = decoded
    return out


def _keep(value: Any, typ: str) -> bool:
    if typ == "p" or typ == "bytes":
        return True
    return value not in ("", 0, False, None, {})


def decode_object(body: bytes) -> dict[str, Any]:
    """``k8s\\x00`` + runtime.Unknown -> the object as JSON, with apiVersion and kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("provided object is not a Kubernetes protobuf (missing magic)")
    envelope = {n: v for n, v in _fields(body[len(MAGIC):])}
    type_meta = decode_message(envelope.get(1, b""), "TypeMeta")  # type: ignore[arg-type]
    kind = type_meta.get("kind", "")
    if kind not in MESSAGES or kind in ("TypeMeta", "Time", "MapEntry"):
        raise ProtobufError(f"the lab cannot decode protobuf {kind or 'objects'}")
    raw = envelope.get(2, b"")
    obj = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind}
    obj.update(decode_message(raw, kind))  # type: ignore[arg-type]
    return obj

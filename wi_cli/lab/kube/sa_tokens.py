"""Service account tokens: a cluster's issuer key, the TokenRequest API and the OIDC documents.

Each cluster signs its service account tokens with its own RS256 key. With the OIDC issuer on
(AKS ``--enable-oidc-issuer``) tokens carry the public issuer URL, under which the lab's issuer
host serves the discovery document and JWKS so Entra can verify them; with it off they carry the
in-cluster issuer ``https://kubernetes.default.svc.cluster.local`` and nothing is published.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from ..http import Request, Response, json_response
from ..keys import SigningKey
from .errors import ApiError

if TYPE_CHECKING:
    from ..runtime import Lab
    from .cluster import KubeCluster

NON_PUBLIC_ISSUER = "https://kubernetes.default.svc.cluster.local"
MIN_EXPIRATION_SECONDS = 600
DEFAULT_EXPIRATION_SECONDS = 3600
MAX_EXPIRATION_SECONDS = 2**32
# AKS: "the maximum lifetime of the token issued by the OIDC provider is one day"
# (AKS use-oidc-issuer.md; MicrosoftDocs/azure-docs#102161), kube-apiserver's
# --service-account-max-token-expiration
AKS_MAX_TOKEN_SECONDS = 86400


@dataclass
class PodBinding:
    """The object (pod and its node, a node, or a secret) a token is bound to."""

    pod_name: str | None = None
    pod_uid: str | None = None
    node_name: str | None = None
    node_uid: str | None = None
    secret_name: str | None = None
    secret_uid: str | None = None


@dataclass
class MintedToken:
    token: str
    expiration_timestamp: str  # RFC 3339, second precision, "Z"
    claims: dict[str, Any]


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ServiceAccountIssuer:
    """A cluster's service account token issuer: signing keys, issuer URL, the public toggle."""

    def __init__(self, lab: "Lab", tenant_id: str, *, public: bool = True,
                 issuer_guid: str | None = None) -> None:
        self.lab = lab
        self.prefix = f"{tenant_id}/{issuer_guid or uuid.uuid4()}"
        self.public_url = lab.oidc.issuer_url(self.prefix)
        self.keys: list[SigningKey] = [SigningKey()]  # keys[0] signs; all are published
        self.clock_offset = 0.0  # seconds the API server's clock is off (fault knob)
        # --service-account-max-token-expiration (None: not set; AKS sets one day)
        self.max_expiration_seconds: int | None = None
        self.public = False
        if public:
            self.enable_public()

    # -- issuer switch --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The ``iss`` of new tokens."""
        return self.public_url if self.public else NON_PUBLIC_ISSUER

    def enable_public(self) -> str:
        self.public = True
        self.lab.oidc.register(self.prefix, lambda: list(self.keys))
        return self.public_url

    def disable_public(self) -> None:
        self.public = False
        self.lab.oidc.unregister(self.prefix)

    # -- keys -------------------------------------------------------------------------------------
    @property
    def signing_key(self) -> SigningKey:
        return self.keys[0]

    def rotate(self, keep_old: bool = True) -> SigningKey:
        """Sign with a new key; the old ones stay published unless ``keep_old`` is False."""
        new = SigningKey()
        self.keys = [new, *self.keys] if keep_old else [new]
        return new

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a token this issuer signed with a key it still publishes (signature only)."""
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self.keys:
            if key.kid == kid:
                return key.verify(token)
        raise jwt.InvalidTokenError(f"unknown kid {kid!r}")

    # -- documents --------------------------------------------------------------------------------
    def discovery(self, jwks_base: str | None = None) -> dict[str, Any]:
        """The discovery document; ``jwks_base`` is where the JWKS lives when not public."""
        base = self.public_url if self.public or not jwks_base else jwks_base.rstrip("/") + "/"
        return {
            "issuer": self.url,
            "jwks_uri": f"{base}openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    def capped(self, expiration_seconds: int) -> int:
        """The lifetime the API server grants: at most --service-account-max-token-expiration."""
        limit = self.max_expiration_seconds
        return min(expiration_seconds, limit) if limit else expiration_seconds

    # -- minting ----------------------------------------------------------------------------------
    def mint(self, namespace: str, sa_name: str, sa_uid: str, audiences: list[str],
             expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
             bound: PodBinding | None = None) -> MintedToken:
        now = int(time.time() + self.clock_offset)
        exp = now + self.capped(int(expiration_seconds))
        k8s: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": sa_name, "uid": sa_uid},
        }
        if bound is not None:
            if bound.node_name:
                k8s["node"] = {"name": bound.node_name, "uid": bound.node_uid or ""}
            if bound.pod_name:
                k8s["pod"] = {"name": bound.pod_name, "uid": bound.pod_uid or ""}
            if bound.secret_name:
                k8s["secret"] = {"name": bound.secret_name, "uid": bound.secret_uid or ""}
        claims: dict[str, Any] = {
            "aud": list(audiences),
            "exp": exp,
            "iat": now,
            "iss": self.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{sa_name}",
        }
        token = self.signing_key.sign(claims, typ=None)
        return MintedToken(token, rfc3339(exp), claims)


# -- the TokenRequest subresource -------------------------------------------------------------------
def _status(code: int, reason: str, message: str,
            details: dict[str, Any] | None = None) -> Response:
    return json_response(code, ApiError(code, reason, message, details).to_status(),
                         content_type="application/json")


def invalid_expiration(name: str, value: Any, detail: str) -> Response:
    cause = f"Invalid value: {value}: {detail}"
    return _status(422, "Invalid",
                   f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                   f"spec.expirationSeconds: {cause}",
                   {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                    "causes": [{"reason": "FieldValueInvalid", "message": cause,
                                "field": "spec.expirationSeconds"}]})


def not_found(plural: str, name: str) -> Response:
    return _status(404, "NotFound", f'{plural} "{name}" not found',
                   {"name": name, "kind": plural})


def validate_expiration(name: str, spec: dict[str, Any]) -> int | Response:
    value = spec.get("expirationSeconds")
    if value is None:
        return DEFAULT_EXPIRATION_SECONDS
    if not isinstance(value, int) or isinstance(value, bool):
        return _status(400, "BadRequest", "the body of the request was in an unknown format")
    if value < MIN_EXPIRATION_SECONDS:
        return invalid_expiration(name, value, "may not specify a duration less than 10 minutes")
    if value > MAX_EXPIRATION_SECONDS:
        return invalid_expiration(name, value, "may not specify a duration larger than 2^32 seconds")
    return value


class TokenRequestHandler:
    """``POST .../serviceaccounts/{name}/token`` for one cluster."""

    def __init__(self, cluster: "KubeCluster", issuer: ServiceAccountIssuer) -> None:
        self.cluster = cluster
        self.issuer = issuer

    def default_audiences(self) -> list[str]:
        # kube-apiserver's --api-audiences defaults to its --service-account-issuer
        return [self.issuer.url]

    def __call__(self, req: Request, namespace: str, name: str) -> Response:
        try:
            body = req.json() or {}
        except ValueError:
            return _status(400, "BadRequest", "the body of the request was in an unknown format")
        spec = dict(body.get("spec") or {})
        sa = self._get("serviceaccounts", namespace, name)
        if sa is None:
            return not_found("serviceaccounts", name)
        expiration = validate_expiration(name, spec)
        if isinstance(expiration, Response):
            return expiration
        bound_ref = spec.get("boundObjectRef")
        binding = self._binding(namespace, bound_ref) if bound_ref else None
        if isinstance(binding, Response):
            return binding
        audiences = list(spec.get("audiences") or []) or self.default_audiences()
        # over the maximum: shortened, with a warning (pkg/registry/core/serviceaccount/
        # storage/token.go), and the response's spec shows what was granted
        granted = self.issuer.capped(expiration)
        headers = {} if granted == expiration else {"Warning": (
            f'299 - "requested expiration of {expiration} seconds shortened to {granted} '
            'seconds"')}
        minted = self.issuer.mint(namespace, name, sa["metadata"].get("uid", ""), audiences,
                                  granted, binding)
        out_spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": granted,
                                    "boundObjectRef": bound_ref}
        return json_response(201, {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": out_spec,
            "status": {"token": minted.token, "expirationTimestamp": minted.expiration_timestamp},
        }, headers, content_type="application/json")

    def _get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return get_object(self.cluster, plural, namespace, name)

    def _binding(self, namespace: str, ref: dict[str, Any]) -> PodBinding | Response:
        kind = ref.get("kind")
        ref_name = ref.get("name", "")
        plural = {"Pod": "pods", "Node": "nodes", "Secret": "secrets"}.get(kind or "")
        if plural is None:
            return _status(400, "BadRequest", f"cannot bind token for object of kind {kind!r}")
        obj = self._get(plural, None if kind == "Node" else namespace, ref_name)
        if obj is None:
            return not_found(plural, ref_name)
        uid = obj["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            return _status(409, "Conflict",
                           f"the UID in the bound object reference ({ref['uid']}) does not match "
                           f"the UID in record. The object might have been deleted and then "
                           f"recreated")
        if kind == "Node":
            return PodBinding(node_name=ref_name, node_uid=uid)
        if kind == "Secret":
            return PodBinding(secret_name=ref_name, secret_uid=uid)
        return pod_binding(self.cluster, obj)


def pod_binding(cluster: "KubeCluster", pod: dict[str, Any]) -> PodBinding:
    node_name = (pod.get("spec") or {}).get("nodeName")
    node_uid = None
    if node_name:
        node = get_object(cluster, "nodes", None, node_name)
        node_uid = node["metadata"].get("uid") if node else None
    return PodBinding(pod["metadata"]["name"], pod["metadata"].get("uid", ""), node_name,
                      node_uid)


def get_object(cluster: "KubeCluster", plural: str, namespace: str | None,
               name: str) -> dict[str, Any] | None:
    """One stored object, or None when it does not exist."""
    return cluster.store.try_get(plural, namespace, name)


# -- wiring -----------------------------------------------------------------------------------------
def install_issuer(cluster: "KubeCluster", tenant_id: str, *, public: bool = True,
                   issuer_guid: str | None = None) -> ServiceAccountIssuer:
    """Give ``cluster`` its issuer: TokenRequest, and the OIDC documents on the API server."""
    issuer = ServiceAccountIssuer(cluster.lab, tenant_id, public=public, issuer_guid=issuer_guid)
    cluster.register_subresource("serviceaccounts", "token", "POST",
                                 TokenRequestHandler(cluster, issuer))

    def discovery(req: Request) -> Response:
        return json_response(200, issuer.discovery(jwks_base=cluster.url),
                             content_type="application/json")

    def keyset(req: Request) -> Response:
        return json_response(200, issuer.jwks(), content_type="application/jwk-set+json")

    cluster.add_route("GET", r"/\.well-known/openid-configuration", discovery)
    cluster.add_route("GET", r"/openid/v1/jwks", keyset)
    cluster.sa_issuer = issuer  # type: ignore[attr-defined]
    return issuer

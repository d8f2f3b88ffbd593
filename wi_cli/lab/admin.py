"""The admin HTTP path (``/_lab/...`` on the ARM server): inspect state, set fault knobs, seed.

No token is needed (the lab listens on loopback only), so nothing here ever returns a secret:
service principals are listed by ids and names only.

* ``GET /_lab/state``: tenants, subscriptions, resource groups, principals, identities with
  their FICs, role assignments, clusters, server URLs and knobs.
* ``POST /_lab/faults``: ``{"server": "arm", "latency": 0.2, "fail_next": {"prefix": "/subscriptions/..",
  "count": 2, "status": 429, "retry_after": 1}}`` or ``{"server": "arm", "clear": true}``
  (no ``server``: every server). ``fail_next`` also takes ``method``, ``path`` (a regex the
  whole path must match, instead of ``prefix``), ``action`` (``status``, ``slow`` with
  ``delay`` seconds, ``reset``), ``agents`` (User-Agent prefixes it is limited to);
  ``{"untrusted_tls": 3}`` makes the next 3 TLS handshakes (-1: all) present a certificate of
  another CA; ``{"hold": {"nth": 5}}`` holds the answer to the 5th request from now (over
  every server) until ``{"release": true}`` (see :mod:`wi_cli.lab.faults`). Entra's
  propagation of new federated credentials:
  ``{"fic_propagation": {"seconds": 120, "seed": 7}}`` (a window in which refusals thin out;
  ``seed`` makes them repeatable) and ``{"refuse_next": {"identity": ID, "fic": NAME, "count":
  3, "code": 70021}}`` (refuse the next 3 exchanges that need that credential, or any of the
  identity's without ``fic``; ``identity`` is a resource id or client id; ``code`` optional;
  count 0 clears). ``clear`` without ``server`` (or for ``entra``) also clears these.
* ``POST /_lab/seed``: any of ``resource_group``, ``identity``, ``fic``, ``role_assignment``
  (objects, see :func:`_seed_one`); answers what was created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .http import LabServer, Request, Response, Router, json_response

if TYPE_CHECKING:
    from .azure_state import AzureState
    from .runtime import Lab


def _bad_request(message: str) -> Response:
    return json_response(400, {"error": {"code": "BadRequest", "message": message}})


def state_summary(lab: "Lab") -> dict[str, Any]:
    az = lab.azure
    with az.lock:
        return {
            "servers": {s.name: s.url for s in lab.servers},
            "authority_host": lab.authority_host,
            "arm_audience": lab.arm_audience,
            "tenants": sorted(az.tenants),
            "subscriptions": [{"id": s.id, "subscriptionId": s.subscription_id,
                               "tenantId": s.tenant_id, "displayName": s.display_name}
                              for s in az.subscriptions.values()],
            "resource_groups": [{"id": rg.id, "location": rg.location}
                                for rg in az.resource_groups.values()],
            "principals": [{"clientId": p.client_id, "objectId": p.object_id,
                            "tenantId": p.tenant_id, "displayName": p.display_name,
                            "identity": p.identity_resource_id}
                           for p in az.principals.values()],
            "identities": [{
                "id": i.id, "location": i.location, "clientId": i.client_id,
                "principalId": i.principal_id, "tenantId": i.tenant_id,
                "fics": [{"name": f.name, "issuer": f.issuer, "subject": f.subject,
                          "audiences": list(f.audiences), "created_at": f.created_at}
                         for f in i.fics.values()],
            } for i in az.identities.values()],
            "role_assignments": [{"id": ra.id, "scope": ra.scope,
                                  "roleDefinitionId": ra.role_definition_id,
                                  "principalId": ra.principal_id,
                                  "principalType": ra.principal_type}
                                 for ra in az.role_assignments.values()],
            "clusters": [{"id": c.id, "location": c.location,
                          "oidcIssuerEnabled": c.oidc_issuer_enabled, "issuerURL": c.issuer_url,
                          "workloadIdentityEnabled": c.workload_identity_enabled}
                         for c in az.clusters.values()],
            "faults": {s.name: s.faults.summary() for s in lab.servers},
            "gate": lab.gate.summary(),
            "knobs": {"fic_propagation_seconds": az.fic_propagation_seconds,
                      "fic_refusals": {key: {"count": left, "code": code}
                                       for key, (left, code) in az.refusals.items()},
                      "fic_write_seconds": az.fic_write_seconds, "page_size": az.page_size},
        }


def apply_faults(lab: "Lab", spec: dict[str, Any]) -> list[str]:
    """Apply a faults request; returns the servers touched. Raises ValueError/KeyError on bad input."""
    name = spec.get("server")
    servers: list[LabServer] = [lab.server(name)] if name else list(lab.servers)
    for server in servers:
        if spec.get("clear"):
            server.faults.clear()
        if "latency" in spec:
            server.faults.latency = float(spec["latency"])
        rule = spec.get("fail_next")
        if rule:
            retry_after = rule.get("retry_after", 1)
            server.faults.fail_next(str(rule.get("prefix", "")), int(rule.get("count", 1)),
                                    int(rule.get("status", 429)),
                                    None if retry_after is None else int(retry_after),
                                    method=rule.get("method"), path=rule.get("path"),
                                    action=str(rule.get("action", "status")),
                                    delay=float(rule.get("delay", 0)),
                                    agents=tuple(str(a) for a in rule.get("agents") or ()))
        if "untrusted_tls" in spec:
            server.faults.untrusted_tls(int(spec["untrusted_tls"]))
    hold = spec.get("hold")
    if hold is not None:
        lab.gate.hold_nth(int(hold["nth"]), tuple(str(a) for a in hold.get("agents") or ()))
    if spec.get("release") or (spec.get("clear") and name is None):
        lab.gate.release()
    if spec.get("clear") and name in (None, "entra"):
        with lab.azure.lock:
            lab.azure.refusals.clear()
            lab.azure.fic_propagation_seconds = 0.0
    _apply_propagation(lab.azure, spec)
    return [s.name for s in servers]


def _apply_propagation(az: "AzureState", spec: dict[str, Any]) -> None:
    window = spec.get("fic_propagation")
    if window is not None:
        seconds = float(window["seconds"])
        if seconds < 0:
            raise ValueError("fic_propagation.seconds must be >= 0")
        with az.lock:
            az.fic_propagation_seconds = seconds
            if window.get("seed") is not None:
                az.propagation_rng.seed(int(window["seed"]))
    refuse = spec.get("refuse_next")
    if refuse is not None:
        ident = _identity_named(az, str(refuse["identity"]))
        code = refuse.get("code")
        if code is not None and int(code) not in (70021, 700016):
            raise ValueError("refuse_next.code is 70021 or 700016 (default: what Entra answers "
                             "without the credential)")
        fic = refuse.get("fic")
        if fic is not None and str(fic).lower() not in ident.fics:
            raise KeyError(f"federated credential {fic} on {ident.id}")
        az.refuse_next(ident, int(refuse.get("count", 1)), None if fic is None else str(fic),
                       None if code is None else int(code))


def _identity_named(az: "AzureState", ref: str) -> Any:
    with az.lock:
        ident = az.identities.get(ref.lower()) or az.identity_by_client_id(ref)
    if ident is None:
        raise KeyError(f"identity {ref}")
    return ident


def _seed_resource_group(az: "AzureState", spec: dict[str, Any]) -> dict[str, Any]:
    rg = az.add_resource_group(spec["subscription_id"], spec["name"],
                               spec.get("location", "westeurope"))
    return {"id": rg.id}


def _seed_identity(az: "AzureState", spec: dict[str, Any]) -> dict[str, Any]:
    ident = az.add_identity(spec["subscription_id"], spec["resource_group"], spec["name"],
                            spec.get("location"))
    return {"id": ident.id, "clientId": ident.client_id, "principalId": ident.principal_id}


def _seed_fic(az: "AzureState", spec: dict[str, Any]) -> dict[str, Any]:
    ident = az.identity(spec["subscription_id"], spec["resource_group"], spec["identity"])
    if ident is None:
        raise KeyError(f"identity {spec['identity']}")
    fic = az.add_fic(ident, spec["name"], spec["issuer"], spec["subject"], spec.get("audiences"))
    return {"identity": ident.id, "name": fic.name}


def _seed_role_assignment(az: "AzureState", spec: dict[str, Any]) -> dict[str, Any]:
    ra = az.add_role_assignment(spec["scope"], spec["role"], spec["principal_id"],
                                spec.get("principal_type", "ServicePrincipal"))
    return {"id": ra.id}


_SEEDERS: dict[str, Callable[["AzureState", dict[str, Any]], dict[str, Any]]] = {
    "resource_group": _seed_resource_group,
    "identity": _seed_identity,
    "fic": _seed_fic,
    "role_assignment": _seed_role_assignment,
}


def mount(lab: "Lab", router: Router) -> None:
    def state(req: Request) -> Response:
        return json_response(200, state_summary(lab))

    def faults(req: Request) -> Response:
        try:
            touched = apply_faults(lab, req.json() or {})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _bad_request(f"invalid faults request: {exc}")
        return json_response(200, {"servers": touched})

    def seed(req: Request) -> Response:
        try:
            spec = req.json() or {}
            unknown = set(spec) - set(_SEEDERS)
            if unknown:
                return _bad_request(f"unknown seed kinds: {sorted(unknown)}")
            created = {kind: _SEEDERS[kind](lab.azure, body) for kind, body in spec.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _bad_request(f"invalid seed request: {exc!r}")
        return json_response(201, created)

    router.add("GET", r"/_lab/state", state)
    router.add("POST", r"/_lab/faults", faults)
    router.add("POST", r"/_lab/seed", seed)

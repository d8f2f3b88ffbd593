#!/usr/bin/env python3
"""The `wi probe` agent: runs inside a pod and reports what its workload identity really gets.

One file, standard library only, Python >= 3.8, so any image with python3 runs it (it arrives
in a ConfigMap). Everything it needs comes from the environment: the webhook's AZURE_* variables
and the WI_* variables `wi probe` sets. It prints one JSON report as its LAST stdout line,
prefixed with ``WI-PROBE-REPORT ``. It never prints a token: only decoded claims.

    WI_ARM_ENDPOINT   ARM base URL (https://management.azure.com/)
    WI_ARM_SCOPE      token scope for ARM (https://management.azure.com/.default)
    WI_SCOPES         ARM scopes to inspect, separated by spaces or commas (default: the
                      subscriptions the token sees and the identity's resource group)
    WI_CHECK_KEYVAULT vault URI to list secrets of (https://NAME.vault.azure.net/)
    WI_CHECK_BLOB     blob container URL to list (https://ACCOUNT.blob.core.windows.net/C)
    WI_KEYVAULT_SCOPE / WI_STORAGE_SCOPE  data-plane token scopes (Key Vault: its 401 challenge
                      wins); WI_HTTP_TIMEOUT seconds per request (10)
    WI_PROPAGATION_WAITS / WI_PROPAGATION_CODES  pauses between retries of refusals a fresh
                      credential gets while it propagates, and which codes (defaults below)
    WI_POD_NAME, WI_POD_NAMESPACE, WI_NODE_NAME  downward API
"""

from __future__ import annotations

import base64
import json
import os
import platform
import re
import socket
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

REPORT_PREFIX = "WI-PROBE-REPORT "
SCHEMA = "wi-probe/v1"
WI_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
           "AZURE_AUTHORITY_HOST")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com/"
DEFAULT_ARM = "https://management.azure.com/"
AUTHZ_API = "2022-04-01"
SUBSCRIPTIONS_API = "2022-12-01"
KEYVAULT_API = "7.4"
STORAGE_VERSION = "2023-11-03"
MAX_PAGES = 20
SA_CLAIMS = ("iss", "sub", "aud", "iat", "nbf", "exp")
ACCESS_CLAIMS = ("aud", "iss", "oid", "tid", "appid", "azp", "xms_mirid", "idtyp", "iat", "exp")


# -- small helpers ----------------------------------------------------------------------------------
def env(name, default=""):
    return os.environ.get(name, default) or default


def timeout():
    try:
        return float(env("WI_HTTP_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def with_slash(url):
    return url if url.endswith("/") else url + "/"


def decode_claims(token):
    """The payload of a JWT, without verifying it (the caller only reports what it says)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT (expected three dot-separated parts)")
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(segment.encode()).decode("utf-8"))
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    return claims


def first_line(text):
    text = (text or "").strip()
    return text.splitlines()[0].strip() if text else ""


class Reply:
    def __init__(self, status, headers, body, error=None):
        self.status = status  # 0: no HTTP answer (network, TLS)
        self.headers = headers
        self.body = body
        self.error = error

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None


def http(method, url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    req.add_header("User-Agent", "wi-probe-agent")
    try:
        with urllib.request.urlopen(req, timeout=timeout()) as resp:  # noqa: S310
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers or {}), exc.read() or b"")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Reply(0, {}, b"", "%s: %s" % (type(exc).__name__, reason))


def bearer(token):
    return {"Authorization": "Bearer " + token, "Accept": "application/json"}


def arm_error(reply):
    body = reply.json()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return {"status": reply.status, "code": error.get("code"),
                "message": first_line(error.get("message"))}
    return {"status": reply.status, "code": None,
            "message": reply.error or first_line(reply.body.decode("utf-8", "replace"))[:300]}


def arm_list(base, path, token, params):
    """Every item of an ARM list (following nextLink), or raise ArmFailure."""
    url = base + path.lstrip("/") + "?" + urllib.parse.urlencode(params)
    items = []
    for _ in range(MAX_PAGES):
        reply = http("GET", url, bearer(token))
        if reply.status != 200:
            raise ArmFailure(arm_error(reply))
        body = reply.json() or {}
        items.extend(body.get("value") or [])
        url = body.get("nextLink")
        if not url:
            break
    return items


class ArmFailure(Exception):
    def __init__(self, error):
        super().__init__(error.get("message"))
        self.error = error


# -- the report sections ----------------------------------------------------------------------------
def container_info():
    os_name = "%s %s" % (platform.system(), platform.release())
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    uid = os.getuid() if hasattr(os, "getuid") else None
    gid = os.getgid() if hasattr(os, "getgid") else None
    groups = sorted(os.getgroups()) if hasattr(os, "getgroups") else []
    return {"hostname": socket.gethostname(), "pod": env("WI_POD_NAME") or None,
            "namespace": env("WI_POD_NAMESPACE") or None, "node": env("WI_NODE_NAME") or None,
            "uid": uid, "gid": gid, "groups": groups, "os": os_name,
            "python": platform.python_version(),
            "python_implementation": platform.python_implementation()}


def workload_env():
    values = {name: os.environ.get(name) for name in WI_VARS}
    others = sorted(n for n in os.environ if n.startswith("AZURE_") and n not in WI_VARS)
    return {"variables": values,
            "missing": [n for n in WI_VARS if not values[n]],
            "other_azure_variables": others,  # names only: some hold secrets
            "token_path": values["AZURE_FEDERATED_TOKEN_FILE"]}


def credential_choice():
    """What azure-identity's DefaultAzureCredential would use first, given this environment."""
    has = lambda *names: all(os.environ.get(n) for n in names)  # noqa: E731
    restricted = env("AZURE_TOKEN_CREDENTIALS")
    if has("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        first, shadows = "EnvironmentCredential (client secret)", True
    elif has("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"):
        first, shadows = "EnvironmentCredential (client certificate)", True
    elif has("AZURE_CLIENT_ID", "AZURE_USERNAME", "AZURE_PASSWORD"):
        first, shadows = "EnvironmentCredential (username and password)", True
    elif has("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
        first, shadows = "WorkloadIdentityCredential", False
    elif has("IDENTITY_ENDPOINT") or has("MSI_ENDPOINT"):
        first, shadows = "ManagedIdentityCredential (App Service / Arc endpoint)", False
    else:
        first, shadows = "ManagedIdentityCredential (IMDS: the node's identity, if any)", False
    wi_ready = has("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")
    return {"first": first, "shadows_workload_identity": bool(shadows and wi_ready),
            "workload_identity_configured": wi_ready,
            "azure_token_credentials": restricted or None}


def service_account_token(path):
    out = {"path": path, "exists": False, "readable": False, "mode": None, "claims": None,
           "lifetime_seconds": None, "expires_in_seconds": None, "error": None}
    if not path:
        out["error"] = "AZURE_FEDERATED_TOKEN_FILE is not set"
        return out, None
    try:
        info = os.stat(path)
    except OSError as exc:
        out["error"] = "cannot stat the token file: %s" % (exc.strerror or exc)
        return out, None
    out["exists"] = True
    out["mode"] = oct(stat.S_IMODE(info.st_mode))
    out["owner_uid"], out["owner_gid"] = info.st_uid, info.st_gid
    try:
        with open(path) as f:
            token = f.read().strip()
    except OSError as exc:
        out["error"] = "cannot read the token file: %s" % (exc.strerror or exc)
        return out, None
    out["readable"] = True
    try:
        claims = decode_claims(token)
    except (ValueError, UnicodeDecodeError) as exc:
        out["error"] = "the token file does not hold a JWT: %s" % exc
        return out, None
    kept = {k: claims.get(k) for k in SA_CLAIMS if k in claims}
    k8s = claims.get("kubernetes.io") if isinstance(claims.get("kubernetes.io"), dict) else {}
    kept["kubernetes.io"] = {
        "namespace": k8s.get("namespace"),
        "serviceaccount": (k8s.get("serviceaccount") or {}).get("name"),
        "pod": (k8s.get("pod") or {}).get("name"),
        "node": (k8s.get("node") or {}).get("name")}
    out["claims"] = kept
    if isinstance(claims.get("exp"), (int, float)):
        if isinstance(claims.get("iat"), (int, float)):
            out["lifetime_seconds"] = int(claims["exp"] - claims["iat"])
        out["expires_in_seconds"] = int(claims["exp"] - time.time())
    return out, token


def exchange(sa_token, scope):
    """Trade the service-account token for an Entra access token for ``scope``.

    Returns (the report entry, the access token or None). The token stays in memory."""
    authority = with_slash(env("AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY))
    tenant, client_id = env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID")
    endpoint = "%s%s/oauth2/v2.0/token" % (authority, tenant or "<AZURE_TENANT_ID>")
    out = {"ok": False, "endpoint": endpoint, "scope": scope, "client_id": client_id or None,
           "claims": None, "expires_in_seconds": None, "error": None}
    missing = [n for n, v in (("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", client_id))
               if not v]
    if missing or not sa_token:
        what = ", ".join(missing) or "a readable service-account token"
        out["error"] = {"code": None, "error": "not_attempted",
                        "description": "no exchange without %s" % what}
        return out, None
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": client_id, "scope": scope,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": sa_token}).encode()
    reply = http("POST", endpoint, {"Content-Type": "application/x-www-form-urlencoded",
                                    "Accept": "application/json"}, form)
    body = reply.json() if reply.status else None
    if reply.status == 200 and isinstance(body, dict) and body.get("access_token"):
        token = body["access_token"]
        try:
            claims = decode_claims(token)
        except (ValueError, UnicodeDecodeError) as exc:
            out["error"] = {"code": None, "error": "bad_token", "description": str(exc)}
            return out, None
        out["ok"] = True
        out["claims"] = {k: claims.get(k) for k in ACCESS_CLAIMS if k in claims}
        if isinstance(claims.get("exp"), (int, float)):
            out["expires_in_seconds"] = int(claims["exp"] - time.time())
        return out, token
    if isinstance(body, dict) and body.get("error"):
        codes = body.get("error_codes") or []
        description = first_line(body.get("error_description"))
        match = re.search(r"AADSTS(\d+)", description)
        code = "AADSTS%s" % (codes[0] if codes else match.group(1)) if (codes or match) else None
        out["error"] = {"code": code, "error": body.get("error"), "description": description,
                        "status": reply.status}
    else:
        out["error"] = {"code": None, "error": "no_answer" if not reply.status else "http_error",
                        "status": reply.status,
                        "description": reply.error or "HTTP %s from the token endpoint"
                        % reply.status}
    return out, None


# What Entra answers for a federated credential (or identity) it does not see yet, while a new
# one propagates (entra-docs workload-identity-federation-considerations.md; kedacore/keda#8152;
# Azure/azure-workload-identity#1200). The agent cannot read ARM: it retries these for a bounded
# time and reports what it got; `wi probe` decides with wi_cli.core.models.propagation_of.
PROPAGATION_CODES = ("AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213",
                     "AADSTS7002138", "AADSTS70025", "AADSTS700016")
DEFAULT_PROPAGATION_WAITS = "0.5,1,2,3,3,0.5"  # 10 s in all


def propagation_waits():
    """Seconds to wait between exchanges refused with one of PROPAGATION_CODES
    (WI_PROPAGATION_WAITS, e.g. "0.5,1,2"; empty: no retry)."""
    raw = os.environ.get("WI_PROPAGATION_WAITS", DEFAULT_PROPAGATION_WAITS)
    try:
        return [float(w) for w in raw.split(",") if w.strip()]
    except ValueError:
        return [float(w) for w in DEFAULT_PROPAGATION_WAITS.split(",")]


def propagation_codes():
    """The refusals to retry (WI_PROPAGATION_CODES, comma-separated; `wi probe` narrows them to
    what ARM says may be propagating)."""
    raw = os.environ.get("WI_PROPAGATION_CODES")
    if raw is None:
        return PROPAGATION_CODES
    return tuple(c.strip() for c in raw.split(",") if c.strip())


def exchange_while_propagating(sa_token, scope):
    out, token = exchange(sa_token, scope)
    waited, codes = 0.0, [(out.get("error") or {}).get("code")]
    retried = propagation_codes()
    for pause in propagation_waits():
        if out["ok"] or (out.get("error") or {}).get("code") not in retried:
            break
        time.sleep(pause)
        waited += pause
        out, token = exchange(sa_token, scope)
        codes.append((out.get("error") or {}).get("code"))
    out["waited_seconds"] = waited
    out["attempts"] = len(codes)
    out["codes"] = codes  # what Entra answered at each attempt (None: a token)
    return out, token


def role_name(base, token, role_definition_id, cache):
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1]
    if guid in cache:
        return cache[guid]
    name = None
    for path in ("providers/Microsoft.Authorization/roleDefinitions/" + guid,
                 role_definition_id.lstrip("/")):
        reply = http("GET", "%s%s?api-version=%s" % (base, path, AUTHZ_API), bearer(token))
        body = reply.json() if reply.status == 200 else None
        if isinstance(body, dict):
            name = (body.get("properties") or {}).get("roleName")
            break
    cache[guid] = name
    return name


def merged_permissions(blocks):
    merged = {"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}
    for block in blocks:
        for key in merged:
            for value in block.get(key) or []:
                if value not in merged[key]:
                    merged[key].append(value)
    return merged


def identity_resource_group(mirid):
    """The identity's own resource group, from the access token's xms_mirid claim: where its
    roles usually are, and readable by the identity itself when it holds Reader there."""
    match = re.match(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/", mirid or "", re.I)
    return "/subscriptions/%s/resourceGroups/%s" % match.groups() if match else None


def permissions(access_token, oid, mirid=None):
    base = with_slash(env("WI_ARM_ENDPOINT", DEFAULT_ARM))
    out = {"arm_endpoint": base, "subscriptions": [], "subscriptions_error": None,
           "role_assignments": [], "scopes": []}
    try:
        subs = arm_list(base, "subscriptions", access_token, {"api-version": SUBSCRIPTIONS_API})
        out["subscriptions"] = [{"id": s.get("subscriptionId"), "name": s.get("displayName"),
                                 "tenant": s.get("tenantId"), "state": s.get("state")}
                                for s in subs]
    except ArmFailure as exc:
        out["subscriptions_error"] = exc.error
    scopes = [s for s in re.split(r"[\s,]+", env("WI_SCOPES")) if s]
    if not scopes:  # wi named none (no operator credentials): what the token itself shows
        scopes = ["/subscriptions/%s" % s["id"] for s in out["subscriptions"]]
        group = identity_resource_group(mirid)
        if group and group.lower() not in [s.lower() for s in scopes]:
            scopes.append(group)
    seen, names = set(), {}
    for scope in scopes:
        entry = {"scope": scope, "role_assignments_error": None, "error": None}
        path = scope.strip("/") + "/providers/Microsoft.Authorization/"
        try:
            assigned = arm_list(base, path + "roleAssignments", access_token,
                                {"api-version": AUTHZ_API, "$filter": "assignedTo('%s')" % oid})
            for ra in assigned:
                props = ra.get("properties") or {}
                if ra.get("id") in seen:
                    continue
                seen.add(ra.get("id"))
                rd = props.get("roleDefinitionId") or ""
                out["role_assignments"].append({
                    "id": ra.get("id"), "scope": props.get("scope"),
                    "role_definition_id": rd, "role": role_name(base, access_token, rd, names),
                    "principal_id": props.get("principalId")})
        except ArmFailure as exc:
            entry["role_assignments_error"] = exc.error
        try:
            blocks = arm_list(base, path + "permissions", access_token,
                              {"api-version": AUTHZ_API})
            entry.update(merged_permissions(blocks))
        except ArmFailure as exc:
            entry["error"] = exc.error
        out["scopes"].append(entry)
    return out


def _scope_of(resource):
    return with_slash(resource) + ".default" if not resource.endswith("/.default") else resource


def _challenge_resource(headers):
    for key, value in headers.items():
        if key.lower() == "www-authenticate":
            m = re.search(r'resource="?([^",\s]+)"?', value) or \
                re.search(r'resource_id="?([^",\s]+)"?', value)
            if m:
                return m.group(1)
    return None


def keyvault_check(sa_token, vault_uri):
    url = "%ssecrets?api-version=%s" % (with_slash(vault_uri), KEYVAULT_API)
    out = {"kind": "keyvault", "target": vault_uri, "action": "list secrets", "ok": False,
           "status": None, "detail": None, "error": None, "scope": None}
    challenge = http("GET", url, {"Accept": "application/json"})
    if challenge.status == 0:
        out["error"] = {"code": "Unreachable", "message": challenge.error}
        return out
    resource = _challenge_resource(challenge.headers)
    scope = _scope_of(resource) if resource else env("WI_KEYVAULT_SCOPE",
                                                      "https://vault.azure.net/.default")
    out["scope"] = scope
    result, token = exchange(sa_token, scope)
    if token is None:
        out["error"] = {"code": (result["error"] or {}).get("code") or "TokenExchangeFailed",
                        "message": (result["error"] or {}).get("description")}
        return out
    reply = http("GET", url, bearer(token))
    out["status"] = reply.status
    body = reply.json()
    if reply.status == 200 and isinstance(body, dict):
        names = [str(item.get("id", "")).rstrip("/").rsplit("/", 1)[-1]
                 for item in body.get("value") or []]
        out["ok"] = True
        out["detail"] = "%d secret(s): %s" % (len(names), ", ".join(names[:10]))
        return out
    error = (body or {}).get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        out["error"] = {"code": error.get("code"), "message": first_line(error.get("message")),
                        "inner": (error.get("innererror") or {}).get("code")}
    else:
        out["error"] = {"code": "HTTP%s" % reply.status, "message": reply.error}
    return out


def blob_check(sa_token, container_url):
    url = container_url.rstrip("/") + "?restype=container&comp=list&maxresults=20"
    scope = env("WI_STORAGE_SCOPE", "https://storage.azure.com/.default")
    out = {"kind": "storage", "target": container_url, "action": "list blobs", "ok": False,
           "status": None, "detail": None, "error": None, "scope": scope}
    result, token = exchange(sa_token, scope)
    if token is None:
        out["error"] = {"code": (result["error"] or {}).get("code") or "TokenExchangeFailed",
                        "message": (result["error"] or {}).get("description")}
        return out
    headers = bearer(token)
    headers.update({"x-ms-version": STORAGE_VERSION, "Accept": "application/xml"})
    reply = http("GET", url, headers)
    out["status"] = reply.status
    try:
        root = ET.fromstring(reply.body) if reply.body else None
    except ET.ParseError:
        root = None
    if reply.status == 200 and root is not None:
        names = [n.text or "" for n in root.iter("Name")]
        out["ok"] = True
        out["detail"] = "%d blob(s): %s" % (len(names), ", ".join(names[:10]))
    elif root is not None and root.tag == "Error":
        out["error"] = {"code": root.findtext("Code"),
                        "message": first_line(root.findtext("Message"))}
    else:
        out["error"] = {"code": "HTTP%s" % reply.status, "message": reply.error}
    return out


def data_plane_checks(sa_token):
    checks = []
    if env("WI_CHECK_KEYVAULT"):
        checks.append(keyvault_check(sa_token, env("WI_CHECK_KEYVAULT")))
    if env("WI_CHECK_BLOB"):
        checks.append(blob_check(sa_token, env("WI_CHECK_BLOB")))
    return checks


def build_report():
    started = time.time()
    wi_env = workload_env()
    sa, sa_token = service_account_token(wi_env["token_path"])
    arm_scope = env("WI_ARM_SCOPE", DEFAULT_ARM + ".default")
    access, access_token = exchange_while_propagating(sa_token, arm_scope)
    report = {"schema": SCHEMA, "container": container_info(), "env": wi_env,
              "credential": credential_choice(),
              "tokens": {"service_account": sa, "access_token": access},
              "permissions": None, "checks": []}
    if access_token is not None:
        claims = access["claims"] or {}
        report["permissions"] = permissions(access_token, claims.get("oid") or "",
                                            claims.get("xms_mirid"))
        report["checks"] = data_plane_checks(sa_token)
    report["elapsed_seconds"] = round(time.time() - started, 3)
    return report


def main():
    try:
        report = build_report()
    except Exception as exc:  # the report must come out, whatever broke
        report = {"schema": SCHEMA, "fatal": "%s: %s" % (type(exc).__name__, exc)}
    sys.stderr.flush()
    sys.stdout.write(REPORT_PREFIX + json.dumps(report, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

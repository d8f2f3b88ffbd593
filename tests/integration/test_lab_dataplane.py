"""The lab's Key Vault and Blob data planes, and ARM's vault / storage account records that
point at them: real wire shapes, audiences and RBAC data actions."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any, Iterator

import pytest

from wi_cli.lab.kube import scenarios
from wi_cli.lab.runtime import Lab
from wi_cli.lab.tokens import mint_access_token

VAULT_AUD, STORAGE_AUD = "https://vault.azure.net", "https://storage.azure.com"


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    with Lab() as lab:
        seeded = scenarios.seed(lab, "bound")
        identity_sp = lab.azure.principal_by_client_id(seeded.identity.client_id)
        nobody = lab.azure.add_service_principal(seeded.tenant_id, "no-roles")
        yield {"lab": lab, "seeded": seeded, "identity": identity_sp,
               "operator": seeded.operator, "nobody": nobody,
               "ctx": ssl.create_default_context(cafile=str(lab.ca_file))}


def call(world: dict[str, Any], url: str, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, context=world["ctx"], timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def token(world: dict[str, Any], who: str, audience: str) -> str:
    return mint_access_token(world["lab"], world[who], audience)


def secrets_url(world: dict[str, Any]) -> str:
    return f"{world['lab'].keyvault.url}/{scenarios.KEY_VAULT}/secrets?api-version=7.4"


def blobs_url(world: dict[str, Any], container: str = scenarios.STORAGE_CONTAINER) -> str:
    return (f"{world['lab'].blob.url}/{scenarios.STORAGE_ACCOUNT}/{container}"
            "?restype=container&comp=list")


def test_arm_serves_vault_and_storage_account_pointing_at_the_data_planes(world) -> None:
    lab, seeded = world["lab"], world["seeded"]
    arm = token(world, "operator", lab.arm_audience)
    base = f"{lab.arm.url}/subscriptions/{seeded.subscription_id}"
    rg = f"{base}/resourceGroups/{seeded.resource_group}"
    status, _, body = call(world, f"{rg}/providers/Microsoft.KeyVault/vaults/"
                                  f"{scenarios.KEY_VAULT}?api-version=2023-07-01", arm)
    vault = json.loads(body)
    assert status == 200 and vault["type"] == "Microsoft.KeyVault/vaults"
    assert vault["properties"]["vaultUri"] == f"{lab.keyvault.url}/{scenarios.KEY_VAULT}/"
    assert vault["properties"]["tenantId"] == seeded.tenant_id
    status, _, body = call(world, f"{base}/providers/Microsoft.Storage/storageAccounts"
                                  "?api-version=2023-05-01", arm)
    accounts = json.loads(body)["value"]
    assert status == 200 and [a["name"] for a in accounts] == [scenarios.STORAGE_ACCOUNT]
    assert accounts[0]["properties"]["primaryEndpoints"]["blob"] == \
        f"{lab.blob.url}/{scenarios.STORAGE_ACCOUNT}/"
    # the identity (Reader on the resource group) may read it too; a principal without roles not
    reader = token(world, "identity", lab.arm_audience)
    url = f"{rg}/providers/Microsoft.KeyVault/vaults/{scenarios.KEY_VAULT}?api-version=2023-07-01"
    assert call(world, url, reader)[0] == 200
    status, _, body = call(world, url, token(world, "nobody", lab.arm_audience))
    assert status == 403 and json.loads(body)["error"]["code"] == "AuthorizationFailed"
    assert "Microsoft.KeyVault/vaults/read" in json.loads(body)["error"]["message"]
    status, _, body = call(world, url.replace("2023-07-01", "1999-01-01"), arm)
    assert status == 400 and json.loads(body)["error"]["code"] == "InvalidApiVersionParameter"
    status, _, body = call(world, url.replace(scenarios.KEY_VAULT, "nope-kv"), arm)
    assert status == 404 and json.loads(body)["error"]["code"] == "ResourceNotFound"


def test_key_vault_challenge_then_list(world) -> None:
    status, headers, body = call(world, secrets_url(world))
    assert status == 401 and json.loads(body)["error"]["code"] == "Unauthorized"
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization="') and f'resource="{VAULT_AUD}"' in challenge
    status, _, body = call(world, secrets_url(world), token(world, "identity", VAULT_AUD))
    listing = json.loads(body)
    assert status == 200 and set(listing) == {"value", "nextLink"}
    assert [s["id"].rsplit("/", 1)[-1] for s in listing["value"]] == [scenarios.KEY_VAULT_SECRET]
    assert listing["value"][0]["attributes"]["enabled"] is True
    assert b"lab-secret-value" not in body  # a list never carries values


def test_key_vault_refuses_wrong_audience_and_missing_data_role(world) -> None:
    lab = world["lab"]
    status, _, body = call(world, secrets_url(world), token(world, "identity", lab.arm_audience))
    assert status == 401 and "AKV10022" in json.loads(body)["error"]["message"]
    # Owner is a control-plane role: no dataActions, so no secrets
    status, _, body = call(world, secrets_url(world), token(world, "operator", VAULT_AUD))
    error = json.loads(body)["error"]
    assert status == 403 and error["code"] == "Forbidden"
    assert error["innererror"]["code"] == "ForbiddenByRbac"
    assert error["message"].startswith("Caller is not authorized to perform action on resource")
    assert "secrets/readMetadata/action" in error["message"]
    status, _, _ = call(world, secrets_url(world).replace("7.4", "1.0"),
                        token(world, "identity", VAULT_AUD))
    assert status == 400


def test_blob_list_xml_and_errors(world) -> None:
    version = {"x-ms-version": "2023-11-03"}
    status, headers, body = call(world, blobs_url(world), token(world, "identity", STORAGE_AUD),
                                 version)
    root = ET.fromstring(body)
    assert status == 200 and root.tag == "EnumerationResults"
    assert root.get("ContainerName") == scenarios.STORAGE_CONTAINER
    assert [n.text for n in root.iter("Name")] == ["hello.txt"]
    status, headers, body = call(world, blobs_url(world), token(world, "operator", STORAGE_AUD),
                                 version)
    assert status == 403 and headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    assert ET.fromstring(body).findtext("Code") == "AuthorizationPermissionMismatch"
    status, headers, _ = call(world, blobs_url(world), None, version)
    assert status == 401 and "resource_id=https://storage.azure.com" in headers["WWW-Authenticate"]
    status, _, _ = call(world, blobs_url(world), token(world, "identity", STORAGE_AUD))
    assert status == 400  # Bearer needs x-ms-version >= 2017-11-09
    status, headers, _ = call(world, blobs_url(world), token(world, "identity", VAULT_AUD),
                              version)
    assert status == 401 and headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
    status, headers, _ = call(world, blobs_url(world, "missing"),
                              token(world, "identity", STORAGE_AUD), version)
    assert status == 404 and headers["x-ms-error-code"] == "ContainerNotFound"

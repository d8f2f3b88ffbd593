import json

import pytest

from support import contract_file
from wi_cli.core.cloud import cloud_from_metadata, resolve_cloud
from wi_cli.core.errors import ConfigError



def _no_fetch(url: str) -> None:
    raise AssertionError(f"a named cloud needs no metadata fetch ({url})")


@pytest.mark.parametrize("name, arm, scope, authority", [
    ("AzureCloud", "https://management.azure.com/", "https://management.azure.com/.default",
     "https://login.microsoftonline.com/"),
    ("azurechinacloud", "https://management.chinacloudapi.cn/",
     "https://management.chinacloudapi.cn/.default", "https://login.chinacloudapi.cn/"),
    ("AzureUSGovernment", "https://management.usgovcloudapi.net/",
     "https://management.core.usgovcloudapi.net/.default", "https://login.microsoftonline.us/"),
])
def test_named_clouds(name: str, arm: str, scope: str, authority: str) -> None:
    cloud = resolve_cloud(name, _no_fetch)
    assert (cloud.arm_endpoint, cloud.arm_scope, cloud.authority_host) == (arm, scope, authority)
    assert cloud.well_known_authority


def _stack_doc() -> dict:
    return {"name": "AzureStack", "resourceManager": "https://management.local.azurestack.external/",
            "authentication": {"loginEndpoint": "https://adfs.local.azurestack.external/adfs",
                               "audiences": ["https://management.adfs.azurestack.local/abc"],
                               "tenant": "adfs", "identityProvider": "ADFS"}}


def test_custom_cloud_scope_is_first_audience_plus_default_like_the_azure_cli() -> None:
    cloud = cloud_from_metadata(_stack_doc(), "https://management.local.azurestack.external/m")
    assert cloud.arm_scope == "https://management.adfs.azurestack.local/abc/.default"
    assert cloud.authority_host == "https://adfs.local.azurestack.external/adfs/"
    assert not cloud.well_known_authority


def test_list_form_picks_the_cloud_of_the_metadata_host() -> None:
    other = {**_stack_doc(), "name": "Other", "resourceManager": "https://elsewhere/"}
    cloud = cloud_from_metadata([other, _stack_doc()],
                                "https://management.local.azurestack.external/metadata/endpoints")
    assert cloud.name == "AzureStack"


def test_public_cloud_metadata_document_gives_the_public_endpoints() -> None:
    doc = json.loads(contract_file(
        "synthesized/arm-metadata-endpoints.2022-09-01.AzureCloud.json").read_text())
    cloud = cloud_from_metadata(doc, "https://management.azure.com/metadata/endpoints")
    assert cloud.arm_endpoint == "https://management.azure.com/"
    assert cloud.authority_host == "https://login.microsoftonline.com/"
    assert cloud.arm_scope == doc["authentication"]["audiences"][0] + "/.default"
    assert cloud.well_known_authority


@pytest.mark.parametrize("value, fragment", [
    ("http://insecure/metadata", "must use https"),
    ("MarsCloud", "Unknown cloud"),
])
def test_bad_cloud_values(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_cloud(value, _no_fetch)
    assert fragment in info.value.message


def test_metadata_with_http_endpoints_is_refused() -> None:
    doc = _stack_doc()
    doc["resourceManager"] = "http://plain/"
    with pytest.raises(ConfigError, match="non-https resourceManager"):
        cloud_from_metadata(doc, "https://x/")

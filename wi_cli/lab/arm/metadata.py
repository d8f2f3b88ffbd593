"""``GET /metadata/endpoints``: the lab cloud's endpoints document (what ``WI_CLOUD`` names).

No token is needed; api-versions before ``2022-09-01`` answer the list form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import Request, Response, json_response
from .frontdoor import ArmError, check_api_version

if TYPE_CHECKING:
    from ..runtime import Lab

METADATA_OBJECT_SINCE = "2022-09-01"  # older api-versions answer the list form
METADATA_VERSIONS = ("2015-01-01", "2018-01-01", "2019-05-01", "2020-06-01", "2022-09-01")


def endpoints(lab: "Lab", req: Request) -> Response:
    try:
        version = check_api_version(req.arg("api-version"), METADATA_VERSIONS)
    except ArmError as err:
        return err.response()
    cloud = cloud_metadata(lab)
    if version >= METADATA_OBJECT_SINCE:
        return json_response(200, cloud)
    cloud["gallery"] = "https://gallery.azure.com/"
    return json_response(200, [cloud])


def cloud_metadata(lab: "Lab") -> dict[str, Any]:
    arm = lab.arm_endpoint
    return {
        "activeDirectoryDataLake": "https://datalake.lab.local/",
        "appInsightsResourceId": "https://api.applicationinsights.lab.local",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.lab.local/v2/track",
        "attestationResourceId": "https://attest.lab.local",
        "authentication": {
            "audiences": [lab.arm_audience],
            "identityProvider": "AAD",
            "loginEndpoint": lab.authority_host,
            "tenant": "common",
        },
        "batch": "https://batch.lab.local/",
        "graph": "https://graph.lab.local/",
        "graphAudience": "https://graph.lab.local/",
        "logAnalyticsResourceId": "https://api.loganalytics.lab.local",
        "media": "https://rest.media.lab.local",
        "microsoftGraphResourceId": "https://graph.microsoft.lab.local/",
        "name": "WiLab",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.lab.local",
        "portal": "https://portal.lab.local",
        "resourceManager": arm,
        "sqlManagement": "https://management.core.lab.local:8443/",
        "suffixes": {
            "acrLoginServer": "azurecr.lab.local",
            "attestationEndpoint": "attest.lab.local",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.lab.local",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.lab.local",
            "azureFrontDoorEndpointSuffix": "azurefd.lab.local",
            "keyVaultDns": "vault.lab.local",
            "mariadbServerEndpoint": "mariadb.database.lab.local",
            "mhsmDns": "managedhsm.lab.local",
            "mysqlServerEndpoint": "mysql.database.lab.local",
            "postgresqlServerEndpoint": "postgres.database.lab.local",
            "sqlServerHostname": "database.lab.local",
            "storage": "core.lab.local",
            "storageSyncEndpointSuffix": "afs.lab.local",
            "synapseAnalytics": "dev.azuresynapse.lab.local",
        },
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.lab.local",
        "vmImageAliasDoc": f"{arm}metadata/vmImageAliasDoc",
    }

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_33:Queue logging is configured in azurerm_storage_account_queue_properties.this (the inline queue_properties block is deprecated in azurerm 4.x); checkov reads only the inline block.
  #checkov:skip=CKV_AZURE_59:Pods read blobs over the public endpoint and azurerm reads queue properties from the operator's machine; access is gated by Entra ID and RBAC.
  #checkov:skip=CKV2_AZURE_1:Customer-managed keys need a Key Vault key and an identity for the account; Microsoft-managed encryption is used for the sample.
  #checkov:skip=CKV2_AZURE_33:A private endpoint needs a VNet and private DNS; out of scope for the sample.
  #checkov:skip=CKV2_AZURE_40:azurerm 4.x reads queue and static-website properties of StorageV2 accounts through the data plane, which fails when shared keys are off (terraform-provider-azurerm#27752).
  name                              = "st${var.prefix}${local.suffix}"
  location                          = azurerm_resource_group.this.location
  resource_group_name               = azurerm_resource_group.this.name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  shared_access_key_enabled         = true
  local_user_enabled                = false

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 7
    }

    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
  }

  tags = local.tags
}

# Queue logging (read, write and delete requests). The inline `queue_properties` block of
# azurerm_storage_account is deprecated across azurerm 4.x in favour of this resource (present
# since 4.14) and goes away in 5.0.
resource "azurerm_storage_account_queue_properties" "this" {
  storage_account_id = azurerm_storage_account.this.id

  logging {
    delete                = true
    read                  = true
    write                 = true
    version               = "1.0"
    retention_policy_days = 10
  }
}

# storage_account_id makes the container an ARM resource, created through the
# management plane rather than with the account's keys.
resource "azurerm_storage_container" "samples" {
  #checkov:skip=CKV2_AZURE_21:Storage Analytics via Log Analytics storage insights is left out with the rest of Log Analytics (see CKV_AZURE_4) to keep the sample cheap.
  name                  = "samples"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_role_assignment" "workload_blob_reader" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
  principal_type       = "ServicePrincipal"
}

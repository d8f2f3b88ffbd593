resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:Terraform writes the sample secret from the operator's machine and pods read it over the public endpoint; a deny-by-default firewall would need both IP sets.
  #checkov:skip=CKV_AZURE_189:Public network access stays on for the same reason; access is still gated by Entra ID and Azure RBAC.
  #checkov:skip=CKV2_AZURE_32:A private endpoint needs a VNet, private DNS and a way in for the operator; out of scope for the sample.
  name                       = "kv-${var.prefix}-${local.suffix}"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true # `enable_rbac_authorization` before azurerm 4.42 (removed in 5.0)
  purge_protection_enabled   = true
  soft_delete_retention_days = 7

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }

  tags = local.tags
}

locals {
  # Everyone who runs Terraform on this module refreshes (reads) and writes the sample secret
  # through the vault's data plane, so each needs a data-plane role: RBAC-mode vaults ignore
  # access policies. Default: whoever runs this apply.
  key_vault_secret_officers = toset(
    var.key_vault_secret_officers != null ? var.key_vault_secret_officers : [data.azurerm_client_config.current.object_id]
  )
}

resource "azurerm_role_assignment" "kv_secrets_officer" {
  for_each             = local.key_vault_secret_officers
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = each.value
}

# A new data-plane role assignment takes a while to reach Key Vault, and the secret's create
# (which first reads the secret) does not retry a 403: without this wait the first apply fails
# with ForbiddenByRbac and only a second run succeeds (hashicorp/terraform-provider-azurerm#17015,
# Azure/terraform-azurerm-avm-res-keyvault-vault#78, fixed there the same way in #79).
# It runs while AKS is still being created, so a first apply takes no longer.
resource "time_sleep" "kv_rbac_propagation" {
  create_duration = "${var.rbac_propagation_wait_seconds}s"

  depends_on = [azurerm_role_assignment.kv_secrets_officer]
}

resource "azurerm_role_assignment" "workload_kv_secrets_user" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
  principal_type       = "ServicePrincipal"
}

resource "random_password" "sample_secret" {
  length  = 32
  special = true
}

resource "azurerm_key_vault_secret" "sample" {
  name            = "wi-sample-secret"
  value           = random_password.sample_secret.result
  key_vault_id    = azurerm_key_vault.this.id
  content_type    = "text/plain"
  expiration_date = timeadd(plantimestamp(), "${var.secret_expiry_days * 24}h")
  tags            = local.tags

  lifecycle {
    # plantimestamp() moves on every plan; the expiry is fixed at creation.
    ignore_changes = [expiration_date]

    precondition {
      condition     = contains(local.key_vault_secret_officers, data.azurerm_client_config.current.object_id)
      error_message = "The principal running Terraform (object id ${data.azurerm_client_config.current.object_id}) is not in key_vault_secret_officers, so it could not read or write the sample secret: add it to the list (or leave the variable null to use the caller)."
    }
  }

  depends_on = [time_sleep.kv_rbac_propagation]
}

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:Terraform writes the sample secret from the operator's machine and pods read it over the public endpoint; a deny-by-default firewall would need both IP sets.
  #checkov:skip=CKV_AZURE_189:Public network access stays on for the same reason; access is still gated by Entra ID and Azure RBAC.
  #checkov:skip=CKV2_AZURE_32:A private endpoint needs a VNet, private DNS and a way in for the operator; out of scope for the sample.
  name                       = "kv-${var.prefix}-${local.suffix}"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 7

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }

  tags = local.tags
}

# Whoever runs Terraform needs data-plane rights to write the sample secret
# (RBAC-mode vaults ignore access policies).
resource "azurerm_role_assignment" "operator_kv_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
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
  }

  depends_on = [azurerm_role_assignment.operator_kv_secrets_officer]
}

# Values the mocked azurerm provider returns where random strings would not do (the tenant
# id is validated as a GUID; the caller's object id is the default Key Vault secret officer).
mock_data "azurerm_client_config" {
  defaults = {
    tenant_id       = "00000000-0000-0000-0000-00000000000e"
    subscription_id = "00000000-0000-0000-0000-00000000000f"
    object_id       = "00000000-0000-0000-0000-0000000000a1"
  }
}

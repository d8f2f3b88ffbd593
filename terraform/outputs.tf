output "resource_group" {
  description = "Name of the resource group holding everything."
  value       = azurerm_resource_group.this.name
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "oidc_issuer_url" {
  description = "The cluster's OIDC issuer URL (the issuer of federated identity credentials)."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "identity_name" {
  description = "Name of the workload's user-assigned managed identity."
  value       = azurerm_user_assigned_identity.workload.name
}

output "identity_client_id" {
  description = "Client ID of the workload identity (goes in the service account annotation)."
  value       = azurerm_user_assigned_identity.workload.client_id
}

output "identity_principal_id" {
  description = "Object (principal) ID of the workload identity, the subject of its role assignments."
  value       = azurerm_user_assigned_identity.workload.principal_id
}

output "acr_login_server" {
  description = "Login server of the container registry."
  value       = azurerm_container_registry.this.login_server
}

output "key_vault_name" {
  description = "Name of the sample Key Vault."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "URI of the sample Key Vault."
  value       = azurerm_key_vault.this.vault_uri
}

output "key_vault_secret_name" {
  description = "Name (not value) of the sample secret the identity may read."
  value       = azurerm_key_vault_secret.sample.name
}

output "storage_account" {
  description = "Name of the sample storage account."
  value       = azurerm_storage_account.this.name
}

output "storage_container" {
  description = "Name of the sample blob container."
  value       = azurerm_storage_container.samples.name
}

output "tenant_id" {
  description = "Entra tenant ID."
  value       = data.azurerm_client_config.current.tenant_id
}

output "subscription_id" {
  description = "Azure subscription ID."
  value       = data.azurerm_client_config.current.subscription_id
}

output "workload_namespace" {
  description = "Namespace of the workload's service account."
  value       = var.workload_namespace
}

output "workload_service_account" {
  description = "Name of the workload's service account."
  value       = var.workload_service_account
}

output "federated_subject" {
  description = "Subject a federated identity credential must match for this service account."
  value       = local.federated_subject
}

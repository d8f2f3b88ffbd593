terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.60 is the floor: `rbac_authorization_enabled` (keyvault.tf) exists from 4.42, and
      # from 4.60 the subscription may come from the Azure CLI login when ARM_SUBSCRIPTION_ID
      # is unset (before, "subscription_id is a required provider property"). Checked against
      # 4.81.0, the last 4.x; 5.0 removes the deprecated names this module no longer uses.
      version = "~> 4.60"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }
}

# The subscription and tenant come from ARM_SUBSCRIPTION_ID / ARM_TENANT_ID (`wi provision`
# passes them when it knows them) or, with azurerm >= 4.60, from the Azure CLI login.
provider "azurerm" {
  # azurerm 4.x registers ~60 resource providers by default ("legacy") and fails without the
  # subscription-wide rights to do so. Register only the ones this module's resources need
  # (internal/resourceproviders/required.go in terraform-provider-azurerm; the
  # `resource_providers_to_register` argument adds to the chosen set). `wi provision`'s preflight
  # checks the same list and names any that are not registered yet.
  resource_provider_registrations = "none"
  resource_providers_to_register = [
    "Microsoft.Compute",           # AKS node pool scale set and disks (node resource group)
    "Microsoft.ContainerRegistry", # azurerm_container_registry
    "Microsoft.ContainerService",  # azurerm_kubernetes_cluster
    "Microsoft.KeyVault",          # azurerm_key_vault
    "Microsoft.ManagedIdentity",   # azurerm_user_assigned_identity
    "Microsoft.Network",           # AKS load balancer, public IP and NSG (node resource group)
    "Microsoft.PolicyInsights",    # the AKS Azure Policy add-on (azure_policy_enabled)
    "Microsoft.Storage",           # azurerm_storage_account and its container
  ]

  features {
    key_vault {
      # Purge protection is on, so the vault cannot be purged on destroy;
      # deleted vaults and secrets stay recoverable for the retention period.
      purge_soft_delete_on_destroy          = false
      purge_soft_deleted_secrets_on_destroy = false
      recover_soft_deleted_key_vaults       = true
      recover_soft_deleted_secrets          = true
    }
  }
}

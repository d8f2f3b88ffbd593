terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.14"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

# The subscription and tenant come from ARM_SUBSCRIPTION_ID / ARM_TENANT_ID
# (`wi provision` passes them) or from the Azure CLI login.
provider "azurerm" {
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

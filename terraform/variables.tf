variable "prefix" {
  description = "Short name used in every resource name (2-10 lowercase letters or digits, starting with a letter)."
  type        = string
  default     = "wi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.prefix))
    error_message = "prefix must be 2-10 lowercase letters or digits and start with a letter (it ends up in ACR and storage account names)."
  }
}

variable "location" {
  description = "Azure region for every resource, e.g. westeurope."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope or eastus2 (lowercase, no spaces)."
  }
}

variable "kubernetes_version" {
  description = "AKS Kubernetes minor version at creation (MAJOR.MINOR, e.g. 1.31); null picks the region's default. The patch upgrade channel keeps the patch current, and later changes are ignored (upgrade with `az aks upgrade`)."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.31 (the patch upgrade channel picks the patch), or null."
  }
}

variable "node_count" {
  description = "Number of nodes in the single system node pool."
  type        = number
  default     = 2

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 10 && floor(var.node_count) == var.node_count
    error_message = "node_count must be a whole number between 1 and 10."
  }
}

variable "node_vm_size" {
  description = "VM size of the system node pool."
  type        = string
  default     = "Standard_D2s_v5"

  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.node_vm_size))
    error_message = "node_vm_size must be an Azure VM size such as Standard_D2s_v5."
  }
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDR ranges allowed to reach the Kubernetes API server; empty leaves it reachable from anywhere (authentication still applies)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.api_server_authorized_ip_ranges : can(cidrhost(cidr, 0))])
    error_message = "Every entry of api_server_authorized_ip_ranges must be a CIDR such as 203.0.113.7/32."
  }
}

variable "workload_namespace" {
  description = "Kubernetes namespace of the workload's service account (used by `wi bind`)."
  type        = string
  default     = "wi-demo"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.workload_namespace))
    error_message = "workload_namespace must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "workload_service_account" {
  description = "Name of the workload's Kubernetes service account (used by `wi bind`)."
  type        = string
  default     = "wi-workload"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.workload_service_account))
    error_message = "workload_service_account must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')."
  }
}

variable "secret_expiry_days" {
  description = "Days until the sample Key Vault secret expires, counted from the first apply."
  type        = number
  default     = 365

  validation {
    condition     = var.secret_expiry_days >= 1 && var.secret_expiry_days <= 3650
    error_message = "secret_expiry_days must be between 1 and 3650."
  }
}

variable "key_vault_secret_officers" {
  description = "Object ids of every principal that runs Terraform on this module (people, the CI service principal): each gets Key Vault Secrets Officer on the vault, needed to write and to refresh the sample secret. null: only the principal running the apply."
  type        = list(string)
  default     = null

  validation {
    condition = var.key_vault_secret_officers == null || (
      length(coalesce(var.key_vault_secret_officers, [])) > 0 &&
      alltrue([for id in coalesce(var.key_vault_secret_officers, []) :
      can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    )
    error_message = "key_vault_secret_officers must be null or a non-empty list of object ids (GUIDs)."
  }
}

variable "rbac_propagation_wait_seconds" {
  description = "Seconds to wait after granting the Key Vault data-plane role before writing the sample secret (new role assignments take a while to reach Key Vault)."
  type        = number
  default     = 120

  validation {
    condition     = var.rbac_propagation_wait_seconds >= 0 && var.rbac_propagation_wait_seconds <= 1800 && floor(var.rbac_propagation_wait_seconds) == var.rbac_propagation_wait_seconds
    error_message = "rbac_propagation_wait_seconds must be a whole number between 0 and 1800."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default = {
    project    = "wi"
    managed-by = "terraform"
  }
}

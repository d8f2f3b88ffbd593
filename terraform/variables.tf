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
  description = "AKS Kubernetes version (MAJOR.MINOR or MAJOR.MINOR.PATCH); null picks the region's default."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^1\\.[0-9]+(\\.[0-9]+)?$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.31 or 1.31.2, or be null."
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

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default = {
    project    = "wi"
    managed-by = "terraform"
  }
}

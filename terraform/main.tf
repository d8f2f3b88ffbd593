data "azurerm_client_config" "current" {}

resource "random_string" "suffix" {
  length  = 6
  lower   = true
  upper   = false
  numeric = true
  special = false
}

locals {
  suffix            = random_string.suffix.result
  federated_subject = "system:serviceaccount:${var.workload_namespace}:${var.workload_service_account}"
  tags = merge(var.tags, {
    wi-workload = "${var.workload_namespace}/${var.workload_service_account}"
  })
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.prefix}-${local.suffix}"
  location = var.location
  tags     = local.tags
}

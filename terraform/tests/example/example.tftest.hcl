# The example variables file, planned with mocked providers. Run from terraform/:
#   terraform test -test-directory=tests/example -var-file=terraform.tfvars.example

mock_provider "azurerm" {
  source = "./tests/mocks"
}

mock_provider "random" {}
mock_provider "time" {}

run "example_tfvars" {
  command = plan

  # Every resource but azurerm_role_assignment.kubelet_acr_pull: it reads the cluster's
  # kubelet_identity, a block the provider computes, which a mock provider leaves empty.
  plan_options {
    target = [
      azurerm_key_vault_secret.sample,
      azurerm_role_assignment.workload_kv_secrets_user,
      azurerm_role_assignment.workload_rg_reader,
      azurerm_role_assignment.workload_blob_reader,
      azurerm_storage_account_queue_properties.this,
      azurerm_storage_container.samples,
      azurerm_container_registry.this,
      azurerm_kubernetes_cluster.this,
    ]
  }

  assert {
    condition     = var.prefix == "demo" && azurerm_resource_group.this.location == "westeurope"
    error_message = "prefix and location from the file"
  }

  assert {
    condition     = azurerm_kubernetes_cluster.this.kubernetes_version == "1.31"
    error_message = "kubernetes_version from the file"
  }

  assert {
    condition     = one(azurerm_kubernetes_cluster.this.api_server_access_profile).authorized_ip_ranges == toset(["203.0.113.7/32"])
    error_message = "authorized ranges from the file"
  }

  assert {
    condition     = length(azurerm_role_assignment.kv_secrets_officer) == 2
    error_message = "both listed officers"
  }

  assert {
    condition     = azurerm_kubernetes_cluster.this.tags["env"] == "demo"
    error_message = "tags from the file"
  }
}

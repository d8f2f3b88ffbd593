# `terraform test` of the variables' validation rules and the module's wiring, offline: the
# providers are mocked (Terraform >= 1.7). From terraform/: `terraform test`. The repo's suite
# runs it with the provider builds of ../shared/tools/tf-validate (tests/unit/test_terraform_providers.py).

mock_provider "azurerm" {
  source = "./tests/mocks"
}

mock_provider "random" {}
mock_provider "time" {}

run "defaults" {
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
    condition     = azurerm_key_vault.this.rbac_authorization_enabled
    error_message = "the vault must use Azure RBAC"
  }

  assert {
    condition     = keys(azurerm_role_assignment.kv_secrets_officer) == ["00000000-0000-0000-0000-0000000000a1"]
    error_message = "by default only the caller is a Key Vault Secrets Officer"
  }

  assert {
    condition     = time_sleep.kv_rbac_propagation.create_duration == "120s"
    error_message = "the secret waits for the data-plane role to propagate"
  }

  assert {
    condition     = azurerm_kubernetes_cluster.this.automatic_upgrade_channel == "patch"
    error_message = "AKS follows the patch channel"
  }

  assert {
    condition     = one(azurerm_storage_account_queue_properties.this.logging).read && one(azurerm_storage_account_queue_properties.this.logging).write && one(azurerm_storage_account_queue_properties.this.logging).delete
    error_message = "queue logging covers read, write and delete"
  }

  assert {
    condition     = azurerm_resource_group.this.location == "westeurope"
    error_message = "the default region"
  }
}

run "secret_officers_include_the_ci_principal" {
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

  variables {
    key_vault_secret_officers = ["00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000c1"]
  }

  assert {
    condition     = length(azurerm_role_assignment.kv_secrets_officer) == 2
    error_message = "one Key Vault Secrets Officer assignment per listed principal"
  }
}

run "secret_officers_without_the_caller_fail_at_plan" {
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

  variables {
    key_vault_secret_officers = ["00000000-0000-0000-0000-0000000000c1"]
  }

  expect_failures = [azurerm_key_vault_secret.sample]
}

run "secret_officers_must_be_object_ids" {
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

  variables {
    key_vault_secret_officers = ["me@example.com"]
  }

  expect_failures = [var.key_vault_secret_officers]
}

run "secret_officers_must_not_be_empty" {
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

  variables {
    key_vault_secret_officers = []
  }

  expect_failures = [var.key_vault_secret_officers]
}

run "prefix_is_validated" {
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

  variables {
    prefix = "Bad-Prefix"
  }

  expect_failures = [var.prefix]
}

run "location_is_validated" {
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

  variables {
    location = "West Europe"
  }

  expect_failures = [var.location]
}

run "kubernetes_version_takes_a_minor_only" {
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

  variables {
    kubernetes_version = "1.31.2"
  }

  expect_failures = [var.kubernetes_version]
}

run "kubernetes_version_minor" {
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

  variables {
    kubernetes_version = "1.31"
  }

  assert {
    condition     = azurerm_kubernetes_cluster.this.kubernetes_version == "1.31"
    error_message = "the minor is passed to AKS"
  }
}

run "node_count_is_validated" {
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

  variables {
    node_count = 0
  }

  expect_failures = [var.node_count]
}

run "node_vm_size_is_validated" {
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

  variables {
    node_vm_size = "D2s_v5"
  }

  expect_failures = [var.node_vm_size]
}

run "authorized_ranges_are_cidrs" {
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

  variables {
    api_server_authorized_ip_ranges = ["203.0.113.7"]
  }

  expect_failures = [var.api_server_authorized_ip_ranges]
}

run "workload_namespace_is_a_dns_label" {
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

  variables {
    workload_namespace = "Wi_Demo"
  }

  expect_failures = [var.workload_namespace]
}

run "workload_service_account_is_a_dns_subdomain" {
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

  variables {
    workload_service_account = "-bad"
  }

  expect_failures = [var.workload_service_account]
}

run "secret_expiry_is_bounded" {
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

  variables {
    secret_expiry_days = 0
  }

  expect_failures = [var.secret_expiry_days]
}

run "rbac_wait_is_bounded" {
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

  variables {
    rbac_propagation_wait_seconds = -1
  }

  expect_failures = [var.rbac_propagation_wait_seconds]
}

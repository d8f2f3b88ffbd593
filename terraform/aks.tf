resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_4:Container Insights (Log Analytics) is left out to keep the sample cheap; enable oms_agent in production.
  #checkov:skip=CKV_AZURE_115:A private cluster is unreachable from the operator's laptop without a VPN or jump box; the sample uses a public API server.
  #checkov:skip=CKV_AZURE_117:A disk encryption set needs a customer-managed key; platform-managed encryption is used for the sample.
  #checkov:skip=CKV_AZURE_141:Local accounts stay enabled so `az aks get-credentials` works without Entra ID integration and kubelogin.
  #checkov:skip=CKV_AZURE_170:The paid (Standard) SLA tier is not needed for a sample cluster.
  #checkov:skip=CKV_AZURE_226:Ephemeral OS disks depend on the VM size's cache or temp disk, and node_vm_size is a free choice.
  #checkov:skip=CKV_AZURE_227:Host encryption needs the EncryptionAtHost feature registered on the subscription.
  #checkov:skip=CKV_AZURE_232:The sample runs a single system node pool (the probe pod must be schedulable on it), so it cannot be tainted for critical add-ons only.
  name                = "aks-${var.prefix}-${local.suffix}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  dns_prefix          = "${var.prefix}-${local.suffix}"
  kubernetes_version  = var.kubernetes_version
  sku_tier            = "Free"

  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  local_account_disabled            = false
  automatic_upgrade_channel         = "patch"

  default_node_pool {
    name                        = "system"
    temporary_name_for_rotation = "systemtmp"
    node_count                  = var.node_count
    vm_size                     = var.node_vm_size
    max_pods                    = 50
    tags                        = local.tags

    upgrade_settings {
      max_surge = "10%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "calico"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  dynamic "api_server_access_profile" {
    for_each = length(var.api_server_authorized_ip_ranges) > 0 ? [1] : []
    content {
      authorized_ip_ranges = var.api_server_authorized_ip_ranges
    }
  }

  tags = local.tags

  lifecycle {
    # The patch channel moves the cluster to new patch releases on its own; with the version in
    # the configuration every later plan would "downgrade" it back (kubernetes_version
    # "1.31.7" -> "1.31"): hashicorp/terraform-provider-azurerm#26946, Azure/terraform-azurerm-aks#335.
    # kubernetes_version only picks the minor version at creation; upgrade minors with
    # `az aks upgrade`.
    ignore_changes = [kubernetes_version]
  }
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:AKS pulls over the public endpoint; disabling it needs the Premium SKU and a private endpoint.
  #checkov:skip=CKV_AZURE_164:Content trust is a Premium SKU feature; the sample uses Standard to keep cost low.
  #checkov:skip=CKV_AZURE_165:Geo-replication is a Premium SKU feature; the sample uses Standard to keep cost low.
  #checkov:skip=CKV_AZURE_166:Image quarantine is a Premium SKU feature; the sample uses Standard to keep cost low.
  #checkov:skip=CKV_AZURE_167:Retention of untagged manifests is a Premium SKU feature; the sample uses Standard to keep cost low.
  #checkov:skip=CKV_AZURE_233:Zone redundancy is a Premium SKU feature; the sample uses Standard to keep cost low.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints are a Premium SKU feature; the sample uses Standard to keep cost low.
  name                   = "acr${var.prefix}${local.suffix}"
  location               = azurerm_resource_group.this.location
  resource_group_name    = azurerm_resource_group.this.name
  sku                    = "Standard"
  admin_enabled          = false
  anonymous_pull_enabled = false
  tags                   = local.tags
}

resource "azurerm_role_assignment" "kubelet_acr_pull" {
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

"""Facts about the workload identity webhook: its configurations, the controller and service
behind them, its config map, and the token audience the cluster's pods get."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.models import (
    WEBHOOK_DEPLOYMENT,
    WEBHOOK_NAMESPACES,
    WI_USE_LABEL,
    ConfigMap,
    Deployment,
    Endpoints,
    MutatingWebhook,
    MutatingWebhookConfiguration,
    Pod,
    expected_audience,
    projected_audiences,
)
from . import Context, fact

WEBHOOK_CONFIG = "azure-wi-webhook-mutating-webhook-configuration"
WEBHOOK_SERVICE = "azure-wi-webhook-webhook-service"
WEBHOOK_CONFIGMAP = "azure-wi-webhook-config"
WEBHOOK_NAME = "mutation.azure-workload-identity.io"


@dataclass
class Backend:
    """The controller Deployment and the service Endpoints in one namespace (None: missing)."""

    deployment: Deployment | None = None
    endpoints: Endpoints | None = None
    config_map: ConfigMap | None = None


@dataclass
class WebhookInstall:
    """Every MutatingWebhookConfiguration, and the webhook's objects in the add-on's and Helm's
    namespaces."""

    configs: list[MutatingWebhookConfiguration]
    backends: dict[str, Backend] = field(default_factory=dict)  # by namespace, found ones only


@dataclass(frozen=True)
class AwiWebhook:
    """One workload-identity webhook entry of a MutatingWebhookConfiguration."""

    config: str
    index: int
    webhook: MutatingWebhook

    @property
    def service_namespace(self) -> str | None:
        service = self.webhook.client_config.service
        return service.namespace if service else None


@dataclass(frozen=True)
class Audience:
    """The audience the cluster's projected tokens carry, and where doctor learned it."""

    audience: str
    source: str


def _backend(ctx: Context, ns: str) -> Backend:
    return Backend(ctx.kube.deployment(ns, WEBHOOK_DEPLOYMENT),
                   ctx.kube.endpoints(ns, WEBHOOK_SERVICE),
                   ctx.kube.config_map(ns, WEBHOOK_CONFIGMAP))


@fact
def webhook(ctx: Context) -> WebhookInstall:
    configs = ctx.kube.webhook_configurations()
    found = dict(zip(WEBHOOK_NAMESPACES, ctx.map(lambda ns: _backend(ctx, ns),
                                                  WEBHOOK_NAMESPACES)))
    return WebhookInstall(configs, {ns: b for ns, b in found.items()
                                    if b.deployment or b.endpoints or b.config_map})


@fact
def awi_webhooks(webhook: WebhookInstall) -> list[AwiWebhook]:
    found = []
    for config in webhook.configs:
        for i, hook in enumerate(config.webhooks):
            service = hook.client_config.service
            if hook.name == WEBHOOK_NAME or (service and service.name == WEBHOOK_SERVICE):
                found.append(AwiWebhook(config.metadata.name, i, hook))
    return found


@fact
def webhook_backends(ctx: Context, webhook: WebhookInstall,
                     awi_webhooks: list[AwiWebhook]) -> dict[str, Backend]:
    """The Deployment and Endpoints behind each namespace a webhook's service lives in, reading
    namespaces outside the two standard ones too."""
    namespaces = sorted({h.service_namespace for h in awi_webhooks if h.service_namespace})
    return dict(zip(namespaces, ctx.map(
        lambda ns: webhook.backends.get(ns) or (Backend() if ns in WEBHOOK_NAMESPACES
                                                else _backend(ctx, ns)), namespaces)))


@fact
def token_audience(webhook: WebhookInstall | None = None,
                   pods: list[Pod] | None = None) -> Audience:
    """The audience this cluster's projected tokens carry, so credentials are compared with what
    the pods really present."""
    args = [list(c.args) for b in (webhook.backends.values() if webhook else [])
            if b.deployment for c in b.deployment.spec.template.spec.containers]
    audiences = projected_audiences(p for p in pods or []
                                    if p.metadata.labels.get(WI_USE_LABEL) == "true")
    return Audience(*expected_audience(args, audiences))

"""Microsoft.Resources subscriptions: the list a caller sees and one subscription."""

from __future__ import annotations

from typing import Any

from .. import rbac
from ..http import Response, json_response
from .frontdoor import SUB, AddRoute, Arm, Call
from .paging import page


class Subscriptions:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.state = arm.state

    def routes(self, add: AddRoute) -> None:
        add("GET", r"/subscriptions", "subscriptions", self.list_subscriptions)
        add("GET", SUB, "subscriptions", self.get_subscription)

    def body(self, sub_id: str) -> dict[str, Any]:
        sub = self.state.subscriptions[sub_id.lower()]
        return {
            "id": sub.id,
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": sub.subscription_id,
            "tenantId": sub.tenant_id,
            "displayName": sub.display_name,
            "state": sub.state,
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            "tags": {},
        }

    def list_subscriptions(self, call: Call) -> Response:
        with self.state.lock:
            subs = [s for s in self.state.subscriptions.values()
                    if s.tenant_id.lower() == call.tid.lower()
                    and rbac.has_any_assignment_under(self.state, call.oid, s.id)]
            items = [self.body(s.subscription_id) for s in subs]
        return page(call, items, self.state.page_size)

    def get_subscription(self, call: Call) -> Response:
        sub_id = call.req.params["sub"]
        with self.state.lock:
            sub = self.state.subscriptions[sub_id.lower()]
            if not rbac.has_any_assignment_under(self.state, call.oid, sub.id):
                self.arm.authorize(call, "Microsoft.Resources/subscriptions/read", sub.id)
            return json_response(200, self.body(sub_id))

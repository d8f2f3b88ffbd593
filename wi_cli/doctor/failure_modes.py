"""The known failure modes (../shared/failure-modes.md §3), by number, in a few words: what
`wi doctor --list-checks` shows next to each check."""

from __future__ import annotations

NAMES: dict[int, str] = {
    1: "pod not labelled", 2: "label on the service account only", 3: "webhook not installed",
    4: "webhook unreachable", 5: "failurePolicy Ignore", 6: "pod older than the annotation",
    7: "client-id annotation misspelt or misplaced", 8: "service account missing",
    9: "wrong client id", 10: "identity without credentials", 11: "wrong tenant",
    12: "issuer mismatch", 13: "OIDC issuer off", 14: "subject mismatch",
    15: "audience mismatch", 16: "token too long-lived or wrong token",
    17: "credential still propagating", 18: "concurrent credential writes",
    19: "20-credential limit", 20: "region without credentials", 21: "no role assignment",
    22: "new principal not replicated", 23: "another credential wins",
    24: "managed identity ambiguity", 25: "SDK too old", 26: "app calls IMDS directly",
    27: "token expired", 28: "node clock skew", 29: "token file not readable",
    30: "Windows pods", 31: "hostNetwork with the proxy", 32: "Jobs with the proxy",
    33: "inject-proxy-sidecar \"false\"", 34: "sidecars from other webhooks",
    35: "native sidecars", 36: "namespace excluded by the webhook", 37: "webhook installed twice",
    38: "webhook cert rotation RBAC", 39: "issuer documents unreachable",
    40: "signing key withdrawn", 41: "token expiration out of range", 42: "empty tenant-id",
    43: "container skipped or old token path", 44: "conditional access on credentials",
    45: "virtual nodes", 46: "offline sites",
}

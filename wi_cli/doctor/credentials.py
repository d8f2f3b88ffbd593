"""How doctor compares a service account with its identity's federated credentials, and the
commands it prints to repair the link: shared by the identity and live layers so one setup is
always described, and fixed, the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.models import (
    Cluster,
    FederatedCredential,
    Identity,
    ServiceAccount,
    ServiceAccountRef,
    credential_matches,
    trust_for,
)
from .facts import Scope
from .facts.cluster import IN_CLUSTER_ISSUER, AksRecord
from .facts.identities import Binding
from .facts.workloads import Key


def wanted_fic(b: Binding, issuer: str, audience: str) -> dict[str, Any]:
    """The credential this service account needs (also the evidence's "expected")."""
    return {"issuer": issuer, "subject": b.subject, "audiences": [audience]}


def fic_view(fic: FederatedCredential) -> dict[str, Any]:
    return {"name": fic.name, "issuer": fic.issuer, "subject": fic.subject,
            "audiences": list(fic.audiences)}


def differences(fic: FederatedCredential, want: dict[str, Any]) -> list[str]:
    diff = []
    if fic.issuer != want["issuer"]:
        diff.append("issuer")
    if fic.subject != want["subject"]:
        diff.append("subject")
    if want["audiences"][0] not in fic.audiences:
        diff.append("audience")
    return diff


def exact_fic(fics: list[FederatedCredential], want: dict[str, Any]) -> FederatedCredential | None:
    return next((f for f in fics if credential_matches(f, want["issuer"], want["subject"],
                                                       want["audiences"][0])), None)


def nearest_fic(fics: list[FederatedCredential],
                want: dict[str, Any]) -> tuple[FederatedCredential | None, list[str]]:
    """The credential that differs in the fewest fields (a same-subject one preferred)."""
    ranked = sorted(fics, key=lambda f: (len(differences(f, want)),
                                         f.subject.lower() != want["subject"].lower(),
                                         f.name.lower()))
    if not ranked:
        return None, []
    return ranked[0], differences(ranked[0], want)


def describe_issuer(actual: str, expected: str) -> str:
    if actual.rstrip("/") == expected.rstrip("/"):
        return ("lacks the trailing '/' the cluster's issuer has" if expected.endswith("/")
                else "has a trailing '/' the cluster's issuer lacks")
    if actual.lower() == expected.lower():
        return "differs from the cluster's issuer only in case (the match is case-sensitive)"
    if actual.rstrip("/") == IN_CLUSTER_ISSUER:
        return "is the in-cluster issuer, which Entra cannot verify"
    return "is another issuer: another cluster's, or this cluster before it was re-created"


def describe_subject(actual: str, expected: str) -> str:
    if actual.lower() == expected.lower():
        return f"differs only in case from {expected} (the match is case-sensitive)"
    parts, want = actual.split(":"), expected.split(":")
    if len(parts) == 4 and parts[:2] == want[:2]:
        if parts[2] != want[2] and parts[3] == want[3]:
            return f"names namespace {parts[2]!r} instead of {want[2]!r}"
        if parts[2] == want[2] and parts[3] != want[3]:
            return f"names service account {parts[3]!r} instead of {want[3]!r}"
    return f"is {actual}, not {expected}"


def never_matches(fic: FederatedCredential, want: dict[str, Any]) -> bool:
    """This service account's credential written wrong: its issuer is this cluster's with a
    trailing-slash or case slip, or the in-cluster issuer Entra cannot verify; or its subject
    differs only in case (Kubernetes names are lower-case). A credential for another cluster's
    issuer or another subject may still be in use there and is never one of these."""
    if fic.subject == want["subject"]:
        return fic.issuer != want["issuer"] and (
            fic.issuer.rstrip("/").lower() == want["issuer"].rstrip("/").lower()
            or fic.issuer.rstrip("/") == IN_CLUSTER_ISSUER)
    return fic.issuer == want["issuer"] and fic.subject.lower() == want["subject"].lower()


@dataclass
class Mismatch:
    """Why no credential matches a service account, as identity.fic and the live check say it."""

    cause: str
    trust: FederatedCredential | None = None  # this issuer+subject's (only its audience is off)
    nearest: FederatedCredential | None = None
    stale: list[FederatedCredential] = field(default_factory=list)  # never match any token
    other_subjects: bool = False  # every credential trusts another service account


def mismatch(b: Binding, fics: list[FederatedCredential], want: dict[str, Any],
             issuer_source: str | None,
             service_accounts_by_key: dict[Key, ServiceAccount]) -> Mismatch:
    ident = b.identity
    name = ident.name if ident is not None else b.client_id
    if not fics:
        return Mismatch(f"identity {name} has no federated credentials")
    trust = trust_for(fics, want["issuer"], want["subject"])
    if trust is not None:
        return Mismatch(f"credential {trust.name} on {name} does not match: its audiences "
                        f"{list(trust.audiences)} lack {want['audiences'][0]}", trust=trust,
                        nearest=trust)
    stale = [f for f in fics if never_matches(f, want)]
    nearest, diff = nearest_fic(stale or fics, want)
    assert nearest is not None
    ref = ServiceAccountRef.from_subject(nearest.subject)
    serves_existing = ref is not None and (ref.namespace, ref.name) in service_accounts_by_key
    if "subject" in diff and nearest not in stale and (len(diff) > 1 or serves_existing):
        others = ", ".join(sorted({f.subject for f in fics}))
        return Mismatch(f"{name} has no federated credential for this service account (its "
                        f"{len(fics)} credential(s) are for {others})", nearest=nearest,
                        other_subjects=True)
    what = []
    if "issuer" in diff:
        source = f" (the cluster's issuer is from {issuer_source})" if issuer_source else ""
        what.append(f"its issuer {describe_issuer(nearest.issuer, want['issuer'])}{source}")
    if "subject" in diff:
        what.append(f"its subject {describe_subject(nearest.subject, want['subject'])}")
    if "audience" in diff:
        what.append(f"its audiences {list(nearest.audiences)} lack {want['audiences'][0]}")
    return Mismatch(f"credential {nearest.name} on {name} does not match: {'; '.join(what)}",
                    nearest=nearest, stale=stale)


# -- commands in fixes ----------------------------------------------------------------------------

def named_cluster(aks: AksRecord | None, scope: Scope) -> Cluster | None:
    """The AKS cluster to name in `wi bind` (only when the user named one to doctor)."""
    return aks.cluster if aks is not None and scope.cluster else None


def bind_command(b: Binding, identity: Identity | str | None = None,
                 cluster: Cluster | None = None) -> str:
    """The `wi bind` that makes this service account's link right (IDENTITY when unknown)."""
    name = (identity if isinstance(identity, str) else identity.name if identity is not None
            else b.identity.name if b.identity is not None else "IDENTITY")
    cmd = f"wi bind {b.name} {name} -n {b.namespace}"
    if cluster is not None:
        cmd += f" --cluster {cluster.name} -g {cluster.resource_group}"
    return cmd


def removal_command(b: Binding, fic: FederatedCredential) -> str:
    ident = b.identity
    assert ident is not None
    if fic.subject == b.subject:  # another issuer: wi unbind removes exactly that trust
        return f"wi unbind {b.name} {ident.name} -n {b.namespace} --issuer {fic.issuer}"
    return (f"az identity federated-credential delete -g {ident.resource_group} "
            f"--identity-name {ident.name} -n {fic.name} --yes")

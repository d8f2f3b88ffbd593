"""The one rule for "a fresh credential is still propagating" (core/models.py), as pure data."""

from __future__ import annotations

import pytest

from wi_cli.core.models import (
    PROPAGATION_CODES,
    PROPAGATION_WINDOW_SECONDS,
    propagation_budget,
    propagation_of,
    propagation_waits,
)


@pytest.mark.parametrize("code", sorted(PROPAGATION_CODES))
def test_every_matching_code_of_a_young_exact_credential_is_propagation(code: str) -> None:
    p = propagation_of(code, credential_age=40, exact_match=True)
    assert p is not None and p.code == code and p.what == "credential"
    assert p.age == "created 40 s ago"


def test_the_code_may_come_without_its_prefix_or_changed() -> None:
    p = propagation_of("700211", credential_age=200, exact_match=True, changed=True)
    assert p is not None and p.code == "AADSTS700211" and p.age == "changed 3 min ago"


def test_no_exact_match_is_never_propagation() -> None:
    assert propagation_of("AADSTS700213", credential_age=5, exact_match=False) is None


def test_an_old_credential_is_not_propagating() -> None:
    assert propagation_of("AADSTS700213", credential_age=PROPAGATION_WINDOW_SECONDS,
                          exact_match=True) is None
    assert propagation_of("AADSTS700213", credential_age=PROPAGATION_WINDOW_SECONDS - 1,
                          exact_match=True) is not None


def test_an_unknown_age_with_an_exact_match_is_propagating_age_unknown() -> None:
    p = propagation_of("AADSTS70025", credential_age=None, exact_match=True)
    assert p is not None and p.age == "age unknown" and p.age_seconds is None


@pytest.mark.parametrize("code", ["AADSTS50166", "AADSTS700024", "AADSTS7000272",
                                  "AADSTS90002", "AADSTS70023", None, ""])
def test_other_codes_are_never_propagation(code: str | None) -> None:
    assert propagation_of(code, credential_age=5, exact_match=True, identity_age=5) is None


def test_700016_only_for_a_young_identity() -> None:
    p = propagation_of("AADSTS700016", credential_age=None, exact_match=False, identity_age=30)
    assert p is not None and p.what == "identity" and p.age == "created 30 s ago"
    assert propagation_of("AADSTS700016", credential_age=5, exact_match=True,
                          identity_age=3600) is None
    assert propagation_of("AADSTS700016", credential_age=5, exact_match=True) is None


def test_waits_are_short_first_and_bounded() -> None:
    waits = propagation_waits()
    assert waits[0] == 0.5 and sum(waits) == pytest.approx(10.0)
    assert propagation_waits(0) == [] and sum(propagation_waits(1.2)) == pytest.approx(1.2)
    assert sum(propagation_waits(150)) == pytest.approx(150) and max(propagation_waits(150)) <= 30


def test_budget_from_the_environment() -> None:
    assert propagation_budget({}) == 10.0
    assert propagation_budget({"WI_PROPAGATION_WAIT": "2.5"}) == 2.5
    assert propagation_budget({"WI_PROPAGATION_WAIT": "9999"}) == 600.0
    assert propagation_budget({"WI_PROPAGATION_WAIT": "soon"}) == 10.0

import pytest

from wi_cli.core.aadsts import code_in, explain, explanation


def test_code_is_found_in_an_sdk_error_text() -> None:
    text = ("WorkloadIdentityCredential authentication failed: AADSTS700213: No matching "
            "federated identity record found for presented assertion subject 'x'.")
    assert code_in(text) == "AADSTS700213"
    e = explanation(text)
    assert e and e.code == "AADSTS700213" and "subject" in e.cause and "wi bind" in e.fix


def test_every_workload_identity_code_has_its_own_explanation() -> None:
    codes = ["700016", "70025", "700211", "700212", "700213", "7002138", "70021", "70023",
             "700024", "50166", "7000272", "700027", "90002", "900023", "1002012", "70011"]
    causes = {explain(c)[0] for c in codes}
    assert len(causes) == len(codes)


@pytest.mark.parametrize("code,cause,fix", [
    # Azure/azure-workload-identity#1232
    ("7000272", "not in the issuer's published JWKS", "at most once a day"),
    # Azure/login#515
    ("7002138", "only in case", "exact subject"),
    # Azure/AKS#4029, Azure/login#283 and Azure/azure-workload-identity#605: as 50166
    ("501661", "OIDC discovery document", "az aks update"),
    ("90061", "OIDC discovery document", "az aks update"),
    # MicrosoftDocs/azure-docs#99862
    ("1002012", "'/.default'", "/.default"),
    # microsoft/ARI#247
    ("900023", "neither a tenant GUID nor a valid domain", "tenant's GUID"),
])
def test_codes_entra_really_returns_have_cause_and_fix(code: str, cause: str, fix: str) -> None:
    e = explanation(f"ClientAssertionCredential.get_token failed: AADSTS{code}: whatever")
    assert e is not None and e.code == f"AADSTS{code}"
    assert cause in e.cause and fix in e.fix
    assert explain(code)[0] != "Entra refused the token exchange."


def test_unknown_code_points_at_doctor() -> None:
    assert "wi doctor" in explain("AADSTS1")[1]
    assert explanation("no code here") is None

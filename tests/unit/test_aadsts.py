from wi_cli.core.aadsts import code_in, explain, explanation


def test_code_is_found_in_an_sdk_error_text() -> None:
    text = ("WorkloadIdentityCredential authentication failed: AADSTS700213: No matching "
            "federated identity record found for presented assertion subject 'x'.")
    assert code_in(text) == "AADSTS700213"
    e = explanation(text)
    assert e and e.code == "AADSTS700213" and "subject" in e.cause and "wi bind" in e.fix


def test_every_workload_identity_code_has_its_own_explanation() -> None:
    codes = ["700016", "70025", "700211", "700212", "700213", "70021", "70023", "700024",
             "50166", "700027", "90002"]
    causes = {explain(c)[0] for c in codes}
    assert len(causes) == len(codes)


def test_unknown_code_points_at_doctor() -> None:
    assert "wi doctor" in explain("AADSTS1")[1]
    assert explanation("no code here") is None

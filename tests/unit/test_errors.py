from harness.errors import ContractViolation, HarnessError, InfrastructureError, JobFailed, UserError


def test_render_names_problem_fix_and_details() -> None:
    text = UserError("bad thing", fix="do this", details="line 1\nline 2").render()
    assert text.splitlines() == ["error: bad thing", "  fix: do this", "  details:", "    line 1", "    line 2"]


def test_kinds_have_distinct_exit_codes() -> None:
    kinds = [UserError, ContractViolation, InfrastructureError, JobFailed]
    assert all(issubclass(k, HarnessError) for k in kinds)
    assert len({k.exit_code for k in kinds}) == len(kinds)

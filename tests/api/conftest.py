import pytest


@pytest.fixture(autouse=True)
def _no_failed_sign_ins_carried_over() -> None:
    """Failed sign-ins are counted in Redis, which outlives a test (and a test run): each API
    test starts with none, so a test's wrong passwords cannot throttle the next test's client."""
    from api import login_throttle

    login_throttle.clear_all()

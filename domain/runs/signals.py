"""What a run tells the domains above it, which ``runs`` may not import (``deploy`` makes the
trained model). Receivers connect at app start (``domain.apps``)."""
from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that marks a run succeeded, with ``run_id``. A receiver that raises
# rolls the success back: ``services.finish_run`` then fails the run, naming the receiver's error.
run_succeeded = Signal()


class RunHookFailed(Exception):
    """A ``run_succeeded`` receiver failed; the run did not succeed."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def send_run_succeeded(run_id: int) -> None:
    """Call every ``run_succeeded`` receiver; raise ``RunHookFailed`` with the first error."""
    for _receiver, result in run_succeeded.send_robust(sender=None, run_id=run_id):
        if isinstance(result, BaseException):
            raise RunHookFailed(result)

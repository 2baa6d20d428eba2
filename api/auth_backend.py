"""The one authentication backend: Django's ModelBackend behind the sign-in throttle."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from api import login_throttle
from api.login_throttle import Refusal
from api.login_unlock import send_unlock_email

_REFUSAL_ATTR = "_vmb_login_refusal"


def refusal_of(request: HttpRequest) -> Refusal | None:
    """Why the throttle refused this request's sign-in, if it did (for a 429 instead of a 400)."""
    return getattr(request, _REFUSAL_ATTR, None)


class ThrottledModelBackend(ModelBackend):
    """Every username-and-password check passes the throttle (api.login_throttle) first.

    A refused try raises PermissionDenied, which makes ``authenticate()`` stop and return None
    without looking at the password (Django's admin login then says the credentials are wrong);
    the refusal is left on the request so the API answers 429 with its message."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        client = login_throttle.client_address(request) if request is not None else None
        attempt = login_throttle.reserve(str(username), client)
        if isinstance(attempt, Refusal):
            if request is not None:
                setattr(request, _REFUSAL_ATTR, attempt)
            raise PermissionDenied(attempt.message)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            login_throttle.succeeded(attempt)
            return user
        nonce = login_throttle.failed(attempt)
        if nonce is not None:
            send_unlock_email(request, str(username), nonce)
        return None

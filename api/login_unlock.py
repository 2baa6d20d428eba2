"""The owner's way out of a sign-in lock: a signed, expiring link mailed when the lock starts.

The token names the username and the lock's nonce (kept in Redis by api.login_throttle), signed
with SECRET_KEY and valid for ``lockout_s``: it clears that one lock only, so a link from an
earlier lock, or one used already, does nothing.
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode, urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest
from django.urls import reverse

from api import login_throttle

log = logging.getLogger(__name__)

_SALT = "vmb.login-unlock"


class UnlockTokenError(ValueError):
    """The token is not one this server signed, or it has expired, or its lock is over."""


def make_token(username: str, nonce: str) -> str:
    return signing.dumps({"u": username, "n": nonce}, salt=_SALT)


def unlock(token: str) -> str:
    """Clears the lock ``token`` was mailed for; returns the username.

    Raises UnlockTokenError when the token is forged or expired, or its lock has ended or been
    cleared already."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.LOGIN_THROTTLE["lockout_s"])
    except signing.SignatureExpired as exc:
        raise UnlockTokenError("This unlock link has expired; the lock it was sent for is over.") from exc
    except signing.BadSignature as exc:
        raise UnlockTokenError("This unlock link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("n"), str):
        raise UnlockTokenError("This unlock link is not valid.")
    if not login_throttle.unlock_if_nonce(data["u"], data["n"]):
        raise UnlockTokenError("This unlock link was used already, or the lock it was sent for is over.")
    return data["u"]


def unlock_url(request: HttpRequest | None, token: str) -> str:
    """The absolute link for a token: on ``PUBLIC_URL`` when set, else on the request's host
    (which Django has checked against ALLOWED_HOSTS)."""
    path = f"{reverse('auth-unlock')}?{urlencode({'token': token})}"
    if settings.PUBLIC_URL:
        return urljoin(settings.PUBLIC_URL.rstrip("/") + "/", path.lstrip("/"))
    return request.build_absolute_uri(path) if request is not None else path


def send_unlock_email(request: HttpRequest | None, username: str, nonce: str) -> None:
    """Mails the unlock link to ``username``'s address, if the account exists, is active and has
    one; a mail server that fails is logged, never shown to the one signing in."""
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None or not user.is_active or not getattr(user, "email", ""):
        return
    lockout = settings.LOGIN_THROTTLE["lockout_s"]
    link = unlock_url(request, make_token(username, nonce))
    body = (
        f"Someone, maybe you, failed to sign in to the account {username!s} on Visual Model Builder "
        f"too many times, so signing in to it is locked for {lockout // 60 or 1} minutes.\n\n"
        f"If it was you, open this link to unlock it now (it works once, until the lock ends):\n\n"
        f"{link}\n\n"
        "If it was not you, your password held; you can ignore this message, or choose a longer "
        "password once you are signed in.\n"
    )
    try:
        send_mail("Sign-in to your account is locked", body, None, [user.email])
    except Exception:  # noqa: BLE001 - any mail transport error; the lock holds either way
        log.exception("could not send the sign-in unlock email for user %s", user.pk)

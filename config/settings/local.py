"""`make run`: the embedded default (SQLite under var/, embedded Valkey, local files)."""
from config.env import env_bool, env_str

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
# make run has no mail server: mails (the sign-in unlock link) are printed where the server logs.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

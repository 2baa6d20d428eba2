"""`make run`: the embedded default (SQLite under var/, embedded Valkey, local files)."""
from config.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)

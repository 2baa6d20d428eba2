"""``manage.py unlock_login alice [bob ...] [--client 203.0.113.7] [--all]``: clear sign-in locks.

The admin's way to clear a lock from a shell, which works even when the only admin is the one
locked out; signed-in admins can use the "Clear sign-in lock" action on the users' admin page.
"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import login_throttle


class Command(BaseCommand):
    help = "Forget failed sign-ins (and so clear the lock) of the given usernames or client addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", help="accounts to unlock (exact usernames)")
        parser.add_argument("--client", action="append", default=[], metavar="ADDRESS",
                            help="a client address whose failed sign-ins to forget (repeatable)")
        parser.add_argument("--all", action="store_true", help="forget every account's and client's failures")

    def handle(self, *args: Any, usernames: list[str], client: list[str], all: bool, **options: Any) -> None:
        if all:
            cleared = login_throttle.clear_all()
            self.stdout.write(f"Forgot the failed sign-ins of {cleared} accounts and client addresses.")
            return
        if not usernames and not client:
            raise CommandError("name at least one username, a --client ADDRESS, or --all")
        for username in usernames:
            if login_throttle.clear(username=username):
                self.stdout.write(f"Cleared the failed sign-ins of {username}: it can sign in again.")
            else:
                self.stdout.write(f"{username} had no failed sign-ins on record.")
        for address in client:
            if login_throttle.clear(client=address):
                self.stdout.write(f"Cleared the failed sign-ins from {address}.")
            else:
                self.stdout.write(f"{address} had no failed sign-ins on record.")

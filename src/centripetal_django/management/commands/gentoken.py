"""``manage.py gentoken USER [--channel CH] [--ttl S] [--info JSON]``: print a connection JWT,
or with ``--channel`` a subscription JWT, signed with the ``CENTRIPETAL`` secrets (AU-01)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from centripetal_django.tokens import connection_token, subscription_token


class Command(BaseCommand):
    help = "Print a connection token (or a subscription token with --channel) for USER."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="user id (the token's sub claim)")
        parser.add_argument("--channel", default="", help="make a subscription token for it")
        parser.add_argument("--ttl", type=int, default=None, help="seconds until exp (0: none)")
        parser.add_argument("--info", default=None, help="JSON object for the info claim")
        parser.add_argument(
            "--channels", default="", help="comma-separated server-side channels (connection)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        info = None
        if options["info"] is not None:
            try:
                info = json.loads(options["info"])
            except ValueError as exc:
                raise CommandError(f"--info is not JSON: {exc}") from exc
        try:
            if options["channel"]:
                token = subscription_token(
                    options["user"], options["channel"], ttl=options["ttl"], info=info
                )
            else:
                channels = [c for c in options["channels"].split(",") if c]
                token = connection_token(
                    options["user"], ttl=options["ttl"], info=info, channels=channels
                )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)

"""``manage.py chat_centripetal_config --django-url URL --origin URL [--redis URL] [-o FILE]``:
write the real-time server's config for this chat (see :mod:`chat.realtime_config`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.realtime_config import build_config


class Command(BaseCommand):
    help = "Print or write the real-time server config matching these Django settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--django-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--origin", action="append", default=[], help="allowed browser origin (repeat)"
        )
        parser.add_argument("--redis", default=None, help="redis:// URL: use the Redis engine")
        parser.add_argument("--auth", choices=["proxy", "jwt"], default=None)
        parser.add_argument("-o", "--output", default=None, help="file to write (default stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        origins = options["origin"] or ["http://localhost:8000", "http://127.0.0.1:8000"]
        config = build_config(
            options["django_url"], origins, redis_url=options["redis"], auth=options["auth"]
        )
        text = json.dumps(config, indent=2) + "\n"
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")

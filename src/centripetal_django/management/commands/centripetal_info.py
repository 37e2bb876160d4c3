"""``manage.py centripetal_info``: call the server API ``info`` method and print each node,
to check ``CENTRIPETAL['API_URL']`` and ``['API_KEY']`` from the Django side (API-12)."""

from __future__ import annotations

from typing import Any

import cent
from django.core.management.base import BaseCommand, CommandError

from centripetal_django.api import get_client
from centripetal_django.conf import get_settings


class Command(BaseCommand):
    help = "Check the server API settings by calling its info method."

    def handle(self, *args: Any, **options: Any) -> None:
        url = get_settings().API_URL
        try:
            info = get_client().info(cent.InfoRequest())
        except cent.CentError as exc:
            raise CommandError(f"server API at {url} failed: {exc}") from exc
        self.stdout.write(f"server API at {url}: {len(info.nodes)} node(s)")
        for node in info.nodes:
            self.stdout.write(
                f"  {node.name} {node.version} clients={node.num_clients} "
                f"users={node.num_users} channels={node.num_channels}"
            )

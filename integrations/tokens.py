"""``TokenStore`` on the Integration row: encrypted tokens and a refresh lease.

The lease is ``integrations.leases.RowLease`` on ``token_lock_owner``/``token_lock_until`` (a
conditional UPDATE: owner empty or expired → me), so it works the same on SQLite and PostgreSQL and
holds no database lock while the provider is called. A process that does not
get the lease waits for it, then re-reads: by then the tokens are usually fresh.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta

from connectors.base import ReauthorizationNeeded, Tokens
from integrations.leases import RowLease
from integrations.models import Integration
from integrations.status import integration_mark_error

LEASE_TTL = timedelta(seconds=30)
WAIT_SECONDS = 35.0
TOKEN_LOCK = RowLease(owner="token_lock_owner", expires="token_lock_until")


class IntegrationTokenStore:
    def __init__(self, integration_id: int):
        self.integration_id = integration_id

    def load(self) -> Tokens | None:
        return Tokens.from_dict(Integration.objects.only("tokens").get(pk=self.integration_id).tokens)

    def save(self, tokens: Tokens) -> None:
        integration = Integration.objects.get(pk=self.integration_id)
        integration.tokens = tokens.to_dict()
        integration.reauthorization_needed = False
        integration.save(update_fields=["tokens", "reauthorization_needed", "updated_at"])

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        owner = secrets.token_hex(8)
        row = Integration.objects.filter(pk=self.integration_id)
        deadline = time.monotonic() + WAIT_SECONDS
        while not TOKEN_LOCK.take(row, owner=owner, ttl=LEASE_TTL):
            if time.monotonic() > deadline:
                raise ReauthorizationNeeded("another process is still refreshing the token; try again")
            time.sleep(0.1)
        try:
            yield
        finally:
            TOKEN_LOCK.release(row, owner=owner)

    def mark_reauthorization_needed(self, reason: str) -> None:
        integration_mark_error(
            integration=Integration.objects.get(pk=self.integration_id),
            message=f"Reauthorization needed: {reason}",
            reauthorize=True,
        )

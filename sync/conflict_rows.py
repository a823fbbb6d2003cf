"""The Conflict rows a merge leaves: open ones (manual) and those the strategy settled, recorded
resolved so an operator can audit what ``newest_wins`` and the others overwrote."""

from __future__ import annotations

from datetime import datetime

from integrations.models import Integration
from sync.merge import MergeResult
from sync.models import Conflict

__all__ = ["conflict_rows"]


def conflict_rows(
    result: MergeResult,
    *,
    integration: Integration,
    entity: str,
    local_id: int | None,
    remote_id: str,
    strategy: str,
    now: datetime,
) -> list[Conflict]:
    """Unsaved rows for ``result``'s conflicts (open) and settled fields (resolved by the strategy)."""
    where = {
        "subaccount_id": integration.subaccount_id,
        "integration": integration,
        "entity": entity,
        "local_id": local_id,
        "remote_id": remote_id,
    }
    rows = [
        Conflict(**where, field=name, local_value=mine, remote_value=theirs, base_value=agreed)
        for name, mine, theirs, agreed in result.conflicts
    ]
    rows += [
        Conflict(
            **where,
            field=settled.field,
            local_value=settled.local,
            remote_value=settled.remote,
            base_value=settled.base,
            status=Conflict.Status.RESOLVED,
            resolution=settled.winner,
            resolved_value=settled.value,
            resolved_by=f"strategy:{strategy}",
            resolved_at=now,
        )
        for settled in result.settled
    ]
    return rows

"""What providers' default mappings (``<provider>/mappings.py``) are written with: a row, and the
transforms several providers use. Data only; ``sync.mapping`` validates the rows."""

from typing import Any

BOTH, FROM_REMOTE, TO_REMOTE = "both", "from_remote", "to_remote"

LOWERCASE = {"name": "lowercase", "args": {}}
TRIM = {"name": "trim", "args": {}}
E164 = {"name": "e164", "args": {}}
NUMBER = {"name": "number", "args": {}}
DATE = {"name": "date_format", "args": {"format": "date"}}
DATETIME = {"name": "date_format", "args": {"format": "iso"}}
EPOCH_MS = {"name": "date_format", "args": {"format": "epoch_ms"}}
EPOCH_MS_DATE = {"name": "date_format", "args": {"format": "epoch_ms", "as_date": True}}


def row(
    local: str, remote: str, transform: dict[str, Any] | None = None, direction: str = BOTH
) -> dict[str, Any]:
    """One mapping row: canonical field ↔ remote field, its direction and optional transform."""
    return {"local": local, "remote": remote, "direction": direction, "transform": transform}

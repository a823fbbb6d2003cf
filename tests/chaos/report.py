"""benchmarks/RESULTS.md's "## Reliability" section: replaced on each `make chaos`, the rest kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

HEADING = "## Reliability"
COLUMNS = ("scenario", "events", "kills", "lost", "duplicated", "time to recover", "notes")


def _cell(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.1f} s"
    return str(value).replace("|", "\\|")


def reliability_section(results: list[dict], *, scale: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        HEADING,
        "",
        f"`make chaos` (CHAOS_SCALE={scale}), {when}: real Celery workers and beat, PostgreSQL and "
        "Redis on loopback, the emulators over HTTP. Every scenario compares the provider's state and "
        "ours record by record; tests/chaos/ holds them.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in results:
        recover = row.get("recover_seconds")
        values = [
            row["scenario"],
            row.get("events"),
            row.get("kills", 0),
            row.get("lost"),
            row.get("duplicated"),
            float(recover) if recover is not None else None,
            row.get("notes", ""),
        ]
        lines.append("| " + " | ".join(_cell(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def reliability_section_write(path: Path, results: list[dict], *, scale: str) -> None:
    """Replace the section (from its heading to the next "## ") or append it."""
    text = path.read_text() if path.exists() else ""
    section = reliability_section(results, scale=scale)
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)

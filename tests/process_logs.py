"""The real processes a test starts (tests/system's workers, the chaos suite's beat) log to files in
its tmp_path. When the test fails, the tail of each is added to its report (tests/conftest.py's
makereport hook): after a CI run, the report is all there is to read."""

from __future__ import annotations

from pathlib import Path

import pytest

PROCESS_LOG_LINES = 60
_logs_key = pytest.StashKey[list[Path]]()


def process_log_register(request: pytest.FixtureRequest, path: Path) -> None:
    """Have ``path``'s tail shown with the failure of the test ``request`` belongs to."""
    request.node.stash.setdefault(_logs_key, []).append(path)


def process_log_sections(item: pytest.Item) -> list[tuple[str, str]]:
    return [
        (f"{path.name} (last {PROCESS_LOG_LINES} lines)", log_tail(path))
        for path in item.stash.get(_logs_key, [])
    ]


def log_tail(path: Path) -> str:
    """The last lines of a process log, without the per-request lines that would crowd out the rest."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(unreadable: {exc})"
    kept = [line[:400] for line in lines if '"logger": "config.requests"' not in line]
    return "\n".join(kept[-PROCESS_LOG_LINES:])

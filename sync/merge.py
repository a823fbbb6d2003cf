"""The three-way, field-level merge that every sync path uses.

Given the base snapshot (what both sides agreed on last time), the local values and the remote
values (all canonical, after mapping), decide per field: a field changed on one side flows to the
other; equal values are never a conflict; a field changed on both sides to different values is
settled by the strategy (and reported as ``settled``, so the engine can record what was overwritten),
or left alone and reported as a conflict when the strategy is manual.

Local changes are not pushed from here: they stay "local ≠ base" and the push phase sends them.
That is also why applying the same remote state twice, or our own pushed change coming back,
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

APP_WINS, CRM_WINS, NEWEST_WINS, MANUAL = "app_wins", "crm_wins", "newest_wins", "manual"


@dataclass(frozen=True)
class FieldRule:
    """Which ways a local field flows (from its mapping)."""

    name: str
    inbound: bool
    outbound: bool


@dataclass(frozen=True)
class Settled:
    """A both-sides change the strategy decided: ``winner`` is "local" or "remote"."""

    field: str
    local: Any
    remote: Any
    base: Any
    winner: str

    @property
    def value(self) -> Any:
        return self.local if self.winner == "local" else self.remote


@dataclass
class MergeResult:
    to_local: dict[str, Any] = field(default_factory=dict)
    new_base: dict[str, Any] = field(default_factory=dict)
    push: set[str] = field(default_factory=set)
    conflicts: list[tuple[str, Any, Any, Any]] = field(default_factory=list)  # (field, local, remote, base)
    settled: list[Settled] = field(default_factory=list)  # both sides changed, the strategy decided

    @property
    def changed_locally(self) -> bool:
        return bool(self.to_local)


def merge(
    *,
    rules: Iterable[FieldRule],
    base: Mapping[str, Any],
    local: Mapping[str, Any],
    remote: Mapping[str, Any],
    strategy: str,
    local_is_newer: bool,
) -> MergeResult:
    """Merge one record. Values must already be in canonical form (sync.mapping.canonical_value)."""
    result = MergeResult(new_base=dict(base))
    for rule in rules:
        name = rule.name
        if not rule.inbound or name not in remote:
            continue  # nothing comes in for this field: the push phase owns it
        mine, theirs, agreed = local.get(name), remote[name], base.get(name)
        if mine == theirs:
            result.new_base[name] = mine
        elif not rule.outbound or mine == agreed:
            # The remote side is the only one that moved (or the only one that may).
            result.to_local[name] = theirs
            result.new_base[name] = theirs
        elif theirs == agreed:
            result.push.add(name)  # only we moved: base stays, the push phase sends it
        else:
            winner = _winner(strategy, local_is_newer)
            if winner is None:
                result.conflicts.append((name, mine, theirs, agreed))
                continue
            result.settled.append(Settled(name, mine, theirs, agreed, winner))
            if winner == "remote":
                result.to_local[name] = theirs
                result.new_base[name] = theirs
            else:
                result.push.add(name)
    return result


def _winner(strategy: str, local_is_newer: bool) -> str | None:
    if strategy == APP_WINS:
        return "local"
    if strategy == CRM_WINS:
        return "remote"
    if strategy == NEWEST_WINS:
        # Ties go to the CRM: its timestamp is the later observation of the same instant.
        return "local" if local_is_newer else "remote"
    return None


def outbound_diff(
    *,
    rules: Iterable[FieldRule],
    base: Mapping[str, Any],
    local: Mapping[str, Any],
    blocked: set[str] = frozenset(),
) -> dict[str, Any]:
    """Local fields that differ from the base and may be pushed (not held by an open conflict)."""
    return {
        rule.name: local.get(rule.name)
        for rule in rules
        if rule.outbound and rule.name not in blocked and local.get(rule.name) != base.get(rule.name)
    }

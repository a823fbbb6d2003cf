"""Convergence through the real engine: random edits of fields and relations on both sides, then
syncs (pull, push), always end with both sides holding the same values and relations.

The provider is an in-memory one that keeps records, fields and relations and answers the
connector calls the engine makes (pull pages, batch create and update with relation adds and
removes), so hundreds of edit sequences run in seconds; the HTTP connectors are checked against
their emulators elsewhere (tests/connectors).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import CANONICAL_RELATIONS, RELATIONS_KEY, RemoteRecord, WriteResult
from integrations.models import SubAccount
from sync.engine import EntityContext, apply_pull_page, push_changes
from sync.models import Company, Deal, EntityLink
from sync.services import record_update
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ["alpha", "beta", "gamma", "delta"]


class MemoryProvider:
    """Deals with a name and a company; companies with a name. What the engine calls, nothing more."""

    batch_size = 100

    def __init__(self):
        self.records: dict[str, dict[str, dict]] = {"company": {}, "deal": {}}
        self.clock = 0

    def stamp(self) -> datetime:
        self.clock += 1
        return START + timedelta(seconds=self.clock)

    @staticmethod
    def chunks(items, size):
        for start in range(0, len(items), size):
            yield start, items[start : start + size]

    def add(self, entity: str, fields: dict, relations: dict | None = None) -> str:
        rid = f"{entity[0]}{len(self.records[entity]) + 1}"
        self.records[entity][rid] = {"fields": fields, "relations": relations or {}, "at": self.stamp()}
        return rid

    def edit(self, entity: str, rid: str, fields: dict | None = None, relations: dict | None = None) -> None:
        record = self.records[entity][rid]
        record["fields"].update(fields or {})
        record["relations"].update(relations or {})
        record["at"] = self.stamp()

    def page(self, entity: str) -> list[RemoteRecord]:
        return [
            RemoteRecord(
                id=rid, modified_at=r["at"], fields=dict(r["fields"]), relations=dict(r["relations"])
            )
            for rid, r in self.records[entity].items()
        ]

    def create(self, entity, payloads):
        results = []
        for index, payload in enumerate(payloads):
            payload = dict(payload)
            changes = payload.pop(RELATIONS_KEY, {})
            rid = self.add(entity, payload, {name: tuple(c["add"]) for name, c in changes.items()})
            results.append(WriteResult(index=index, ok=True, remote_id=rid, created=True))
        return results

    def update(self, entity, pairs):
        for rid, payload in pairs:
            payload = dict(payload)
            changes = payload.pop(RELATIONS_KEY, {})
            relations = {}
            for name, change in changes.items():
                current = set(self.records[entity][rid]["relations"].get(name, ()))
                relations[name] = tuple(sorted((current - set(change["remove"])) | set(change["add"])))
            self.edit(entity, rid, payload, relations)
        return [WriteResult(index=i, ok=True, remote_id=rid) for i, (rid, _) in enumerate(pairs)]


def contexts(integration) -> dict[str, EntityContext]:
    return {
        entity: replace(EntityContext.build(integration, entity), relations=dict(CANONICAL_RELATIONS[entity]))
        for entity in ("company", "deal")
    }


def sync(integration, provider: MemoryProvider) -> None:
    ctxs = contexts(integration)
    for entity in ("company", "deal"):
        apply_pull_page(ctxs[entity], provider.page(entity), cursor=None, run=None)
    push_changes(ctxs, provider, run=None)


def remote_of(integration, entity: str, local_id: int | None) -> tuple[str, ...]:
    if local_id is None:
        return ()
    return (EntityLink.objects.get(integration=integration, entity=entity, local_id=local_id).remote_id,)


@pytest.mark.parametrize("strategy", ["app_wins", "crm_wins", "newest_wins"])
def test_random_edits_of_fields_and_relations_on_both_sides_converge(catalog, sandbox_url, strategy):
    rng = random.Random(f"converge-{strategy}")
    for scenario in range(12):
        subaccount = SubAccount.objects.create(name=f"S{scenario}", slug=f"s-{strategy}-{scenario}")
        integration = sandbox_integration(subaccount, "hubspot", sandbox_url, conflict_strategy=strategy)
        provider = MemoryProvider()
        companies = [provider.add("company", {"name": f"Co {i}"}) for i in range(3)]
        deals = [
            provider.add("deal", {"dealname": "alpha"}, {"company_id": (companies[0],)}) for _ in range(2)
        ]
        sync(integration, provider)
        local_companies = [
            EntityLink.objects.get(integration=integration, entity="company", remote_id=rid).local_id
            for rid in companies
        ]

        for _ in range(rng.randint(1, 8)):
            index = rng.randrange(len(deals))
            rid = deals[index]
            side, what = rng.choice(["local", "remote"]), rng.choice(["name", "company"])
            company = rng.randrange(-1, len(companies))  # -1: no company
            if side == "remote" and what == "name":
                provider.edit("deal", rid, {"dealname": rng.choice(NAMES)})
            elif side == "remote":
                provider.edit(
                    "deal", rid, relations={"company_id": (companies[company],) if company >= 0 else ()}
                )
            else:
                deal = Deal.objects.get(
                    pk=EntityLink.objects.get(integration=integration, entity="deal", remote_id=rid).local_id
                )
                value = (
                    {"name": rng.choice(NAMES)}
                    if what == "name"
                    else {"company_id": local_companies[company] if company >= 0 else None}
                )
                record_update(record=deal, fields=value, origin="api_key:test")
            if rng.random() < 0.4:
                sync(integration, provider)
        sync(integration, provider)
        sync(integration, provider)  # a second round settles what the first pushed

        for rid in deals:
            remote = provider.records["deal"][rid]
            deal = Deal.objects.get(
                pk=EntityLink.objects.get(integration=integration, entity="deal", remote_id=rid).local_id
            )
            assert deal.name == remote["fields"]["dealname"], (scenario, rid)
            assert remote_of(integration, "company", deal.company_id) == tuple(
                remote["relations"].get("company_id", ())
            ), (scenario, rid)
        assert Company.objects.filter(subaccount=subaccount).count() == 3  # nothing duplicated

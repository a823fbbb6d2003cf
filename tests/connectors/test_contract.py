"""The contract every registered connector keeps, run over real HTTP against its emulator.

Parametrised by registry key: a new connector added to CONNECTORS (with its emulator in EMULATORS)
runs all of this without writing a line here. A connector that syncs no entity (an enrichment
provider) keeps the auth, connection-test, retry and config parts; the record tests do not apply
to it and are skipped, and it must instead refuse every record method clearly.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.utils import timezone

from connectors.base import (
    CANONICAL_ENTITIES,
    CANONICAL_FIELDS,
    CANONICAL_RELATIONS,
    FIELD_TYPES,
    RELATIONS_KEY,
    AuthError,
    ConfigError,
    Connector,
    MemoryTokenStore,
    Page,
    RemoteField,
    RemoteRecord,
    TestResult,
)
from connectors.capabilities import EventSink, PortalProvider, ReportSource, TableStore
from connectors.registry import CONNECTORS, EMULATORS, connector_class, default_mappings, emulator_module
from sync.mapping import CUSTOM_ALIAS, validate_rows

pytestmark = pytest.mark.django_db(transaction=True)
KEYS = sorted(CONNECTORS)
# What a connector syncing no entity may offer instead of enrichment (connectors.capabilities).
NON_RECORD_CAPABILITIES = (PortalProvider, TableStore, ReportSource, EventSink)


@pytest.fixture(params=KEYS)
def key(request) -> str:
    return request.param


@pytest.fixture
def emulator(key):
    em = emulator_module(key).emulator
    em.reset()
    return em


@pytest.fixture
def connector(key, emulator, sandbox_url) -> Connector:
    config, tokens = emulator.connect(sandbox_url)
    return connector_class(key)(
        config, token_store=MemoryTokenStore(tokens), integration_id=f"contract-{key}"
    )


def pull_all(
    connector: Connector, entity: str, cursor: str | None = None
) -> tuple[list[RemoteRecord], str | None]:
    records: list[RemoteRecord] = []
    for page in connector.pull(entity, cursor=cursor):
        assert isinstance(page, Page)
        records.extend(page.records)
        cursor = page.cursor if page.cursor is not None else cursor
    return records, cursor


def listed_or_fetched(connector: Connector, entity: str, ids: list[str]) -> dict[str, RemoteRecord]:
    """The records with these ids as the provider gives them back: by a full pull when it can list
    the entity, else by ``get`` (a provider with no list endpoint, whose records we push)."""
    if connector.entity_spec(entity).listable:
        records, _ = pull_all(connector, entity)
    else:
        records = connector.get(entity, ids)
    return {r.id: r for r in records if r.id in set(ids) and not r.deleted}


def writable(connector: Connector) -> list[str]:
    return [entity for entity, spec in connector.entities.items() if spec.writable]


def syncing(connector: Connector, entity: str = "contact") -> None:
    """Skip a record test for a connector that does not sync ``entity`` (an enrichment provider)."""
    if not connector.supports(entity):
        pytest.skip(f"{connector.key} syncs no {entity} records")


def writing(connector: Connector, entity: str = "contact") -> None:
    """Skip a test that creates ``entity`` records for a connector that only reads them (leads)."""
    syncing(connector, entity)
    if not connector.entity_spec(entity).writable:
        pytest.skip(f"{connector.key} only reads {entity} records")


def control(sandbox_url: str, key: str, name: str, body: dict) -> dict:
    resp = requests.post(f"{sandbox_url}/{key}/_control/{name}", data=json.dumps(body), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_every_registered_connector_has_an_emulator_and_declares_itself(key):
    cls = connector_class(key)
    assert key in EMULATORS
    assert cls.key == key and cls.display_name
    assert set(cls.entities) <= set(CANONICAL_ENTITIES)
    assert cls.entities or cls.enriches or issubclass(cls, NON_RECORD_CAPABILITIES), (
        "a connector syncs some entity, is an enrichment provider or offers a capability"
    )
    assert cls.batch_size >= 1
    mappings = default_mappings(key)
    assert bool(mappings) is bool(cls.entities)
    for entity, rows in mappings.items():
        assert entity in cls.entities
        for row in rows:
            # A canonical field, or a custom field a provider keeps its own facts in (attribution).
            assert row["local"] in CANONICAL_FIELDS[entity] or row["local"].startswith(CUSTOM_ALIAS), (
                entity,
                row,
            )
        validate_rows(entity, rows)  # directions, remote names and transforms (names and arguments)


def test_connection_succeeds_with_good_credentials(connector):
    result = connector.test_connection()
    assert isinstance(result, TestResult) and result.ok, result.message


def test_bad_credentials_are_refused_clearly(key, emulator, sandbox_url):
    config, tokens = emulator.connect(sandbox_url)
    if tokens is not None:
        tokens.access_token, tokens.refresh_token = "revoked-token", ""
    else:
        config = {
            **config,
            **{
                k: "revoked-token"
                for k in ("access_token", "api_key", "api_token", *connector_class(key).secret_fields)
                if k in config
            },
        }
    bad = connector_class(key)(config, token_store=MemoryTokenStore(tokens))
    try:
        result = bad.test_connection()
    except AuthError as exc:
        assert "revoked-token" not in str(exc)
    else:
        assert not result.ok and "revoked-token" not in result.message


def test_create_in_batches_then_full_pull_pages_past_one_page(key, connector):
    writing(connector)
    count = connector.batch_size + 5
    em = emulator_module(key).emulator
    results = connector.create("contact", [em.sample_record("contact", i) for i in range(count)])
    assert [r.index for r in results] == list(range(count))
    assert all(r.ok and r.remote_id for r in results), [r.error for r in results if not r.ok][:3]
    made = [r.remote_id for r in results]
    assert len(set(made)) == count
    if connector.entity_spec("contact").listable:
        records, cursor = pull_all(connector, "contact")
        ids = [r.id for r in records if not r.deleted]
        assert len(set(ids)) == count and cursor
    else:
        ids = made
        assert set(listed_or_fetched(connector, "contact", ids)) == set(ids)
    fetched = connector.get("contact", ids[:3])
    assert {r.id for r in fetched} == set(ids[:3])


def test_a_rejected_record_fails_alone(key, connector):
    writing(connector)
    em = emulator_module(key).emulator
    batch = [em.sample_record("contact", 1), em.invalid_record("contact"), em.sample_record("contact", 2)]
    results = connector.create("contact", batch)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error and not results[1].remote_id


def test_delta_from_a_cursor_returns_the_change_and_update_round_trips(key, connector):
    writing(connector)
    em = emulator_module(key).emulator
    created = connector.create("contact", [em.sample_record("contact", i) for i in range(5)])
    target = created[2].remote_id
    sample = em.sample_record("contact", 99)
    name_field = next(f for f in sample if "last" in f.lower() or "name" in f.lower())
    if not connector.entity_spec("contact").listable:  # no delta to read: the update reads back
        [result] = connector.update("contact", [(target, {name_field: "Changed"})])
        assert result.ok and result.remote_id in (None, target), result.error
        assert listed_or_fetched(connector, "contact", [target])[target].fields[name_field] == "Changed"
        return
    _, cursor = pull_all(connector, "contact")
    [result] = connector.update("contact", [(target, {name_field: "Changed"})])
    assert result.ok, result.error
    changed, _ = pull_all(connector, "contact", cursor)
    by_id = {r.id: r for r in changed}
    assert target in by_id and by_id[target].fields[name_field] == "Changed"
    assert len(changed) < 5 or all(r.id in {c.remote_id for c in created} for r in changed)


def test_deletes_come_back_as_deleted_records(key, connector):
    writing(connector)
    em = emulator_module(key).emulator
    created = connector.create("contact", [em.sample_record("contact", i) for i in range(3)])
    if not connector.entity_spec("contact").deletable:  # refused per record, clearly; kept remotely
        [result] = connector.delete("contact", [created[0].remote_id])
        assert not result.ok and result.error and result.code == "unsupported"
        assert created[0].remote_id in listed_or_fetched(connector, "contact", [created[0].remote_id])
        return
    _, cursor = pull_all(connector, "contact")
    [result] = connector.delete("contact", [created[0].remote_id])
    assert result.ok, result.error
    changed, _ = pull_all(connector, "contact", cursor)
    assert any(r.id == created[0].remote_id and r.deleted for r in changed)


def test_every_entity_can_be_created_and_pulled(key, connector):
    syncing(connector)
    em = emulator_module(key).emulator
    for entity in writable(connector):
        results = connector.create(entity, [em.sample_record(entity, 1)])
        assert results[0].ok, (entity, results[0].error)
        assert results[0].remote_id in listed_or_fetched(connector, entity, [results[0].remote_id]), entity


def test_an_entity_the_platform_may_not_write_is_read_only_in_the_connector_too(key, connector):
    """Read-only entities (chat messages) are never created by a sync: the engine does not push
    them, and the connector refuses a create per record rather than sending anything."""
    syncing(connector)
    for entity in set(connector.entities) - set(writable(connector)):
        [result] = connector.create(entity, [{"subject": "never sent"}])
        assert not result.ok and result.code == "unsupported" and result.error, entity


def test_an_injected_rate_limit_is_retried_transparently(key, connector, sandbox_url):
    control(sandbox_url, key, "faults", {"ratelimit_count": 1})
    assert connector.test_connection().ok
    assert control(sandbox_url, key, "state", {})["ratelimit_count"] == 0


def test_an_injected_server_error_is_retried_transparently(key, connector, sandbox_url):
    control(sandbox_url, key, "faults", {"fail_status": 503, "fail_count": 1})
    assert connector.test_connection().ok


def test_find_created_finds_what_a_create_made_and_nothing_else(key, connector):
    """The engine's duplicate guard: an interrupted create is looked for by its payload."""
    syncing(connector)
    from datetime import timedelta

    from django.utils import timezone

    em = emulator_module(key).emulator
    since = timezone.now() - timedelta(seconds=5)
    for entity in writable(connector):
        made, never = em.sample_record(entity, 7), em.sample_record(entity, 8)
        [result] = connector.create(entity, [made])
        assert result.ok, (entity, result.error)
        found = connector.find_created(entity, [made, never], since=since)
        assert found[0] == [result.remote_id] and found[1] == [], (entity, found)
        later = connector.find_created(entity, [made], since=timezone.now() + timedelta(minutes=1))
        assert later == [[]], entity  # created before the window: not ours


def test_find_created_finds_a_contact_with_a_name_only(key, connector):
    writing(connector)
    em = emulator_module(key).emulator
    from datetime import timedelta

    from django.utils import timezone

    sample = em.sample_record("contact", 3)
    name_only = {f: v for f, v in sample.items() if "name" in f.lower() and "company" not in f.lower()}
    # ...and the one identifying field a provider insists on, if it does.
    needed = next((f for f in connector.entity_spec("contact").requires_one_of if sample.get(f)), None)
    if needed:
        name_only[needed] = sample[needed]
    [result] = connector.create("contact", [name_only])
    assert result.ok, result.error
    found = connector.find_created("contact", [name_only], since=timezone.now() - timedelta(seconds=5))
    assert found == [[result.remote_id]]


def test_webhook_subscription_hooks_round_trip(connector, sandbox_url):
    subscription = connector.subscribe_webhooks(
        target_url=f"{sandbox_url}/../webhooks/in/{connector.key}/1/", secret="s3cret-value"
    )
    assert isinstance(subscription, dict)
    assert "s3cret-value" not in json.dumps(subscription)  # stored with the integration, unencrypted
    connector.unsubscribe_webhooks(subscription=subscription)
    connector.unsubscribe_webhooks(subscription=subscription)  # already gone: quietly fine


def test_relations_written_are_read_back_and_removed(key, connector):
    """Every relation a connector declares round-trips: an add on create is read back by ``get``
    as the target's remote id, and a remove empties it."""
    syncing(connector)
    em = emulator_module(key).emulator
    serial = iter(range(200, 400))
    for entity, names in connector.relations.items():
        if entity not in writable(connector):
            continue  # read only: its relations are read (the connector's own tests show how)
        for name in names:
            target = CANONICAL_RELATIONS[entity][name].target
            if target not in writable(connector):
                continue
            [made_target] = connector.create(target, [em.sample_record(target, next(serial))])
            assert made_target.ok, (target, made_target.error)
            add = {RELATIONS_KEY: {name: {"add": [made_target.remote_id], "remove": []}}}
            [made] = connector.create(entity, [{**em.sample_record(entity, next(serial)), **add}])
            assert made.ok and not made.relations_failed, (entity, name, made.error, made.relations_error)
            [read] = connector.get(entity, [made.remote_id])
            assert read.relations.get(name) == (made_target.remote_id,), (entity, name, read.relations)
            remove = {RELATIONS_KEY: {name: {"add": [], "remove": [made_target.remote_id]}}}
            [updated] = connector.update(entity, [(made.remote_id, remove)])
            if name in connector.fixed_relations.get(entity, ()):
                assert updated.relations_failed == (name,) and updated.relations_error, (entity, name)
                continue  # set once on create: the provider keeps it
            assert updated.ok and not updated.relations_failed, (entity, name, updated.relations_error)
            [read] = connector.get(entity, [made.remote_id])
            assert read.relations.get(name, ()) == (), (entity, name, read.relations)


def test_discovered_fields_describe_every_entity_and_its_default_mappings(key, connector):
    syncing(connector)
    for entity in connector.entities:
        fields = connector.discover_fields(entity)
        assert fields and all(isinstance(f, RemoteField) for f in fields), entity
        assert all(f.name and f.label and f.type in FIELD_TYPES for f in fields), entity
        names = {f.name for f in fields}
        mapped = {
            row["remote"]
            for row in default_mappings(key).get(entity, [])
            if not row["remote"].startswith("_")
        }
        assert mapped <= names, (entity, sorted(mapped - names))


def test_a_connector_syncing_no_entity_refuses_every_record_method_clearly(connector):
    """An enrichment provider or a portal service is never asked for records; if it is, it says so
    instead of guessing."""
    if connector.entities:
        pytest.skip(f"{connector.key} syncs records")
    assert connector.enriches or isinstance(connector, NON_RECORD_CAPABILITIES)
    assert connector.relations_for("contact") == {}
    calls = {
        "pull": lambda: list(connector.pull("contact", cursor=None)),
        "get": lambda: connector.get("contact", ["1"]),
        "create": lambda: connector.create("contact", [{"email": "a@b.example"}]),
        "update": lambda: connector.update("contact", [("1", {"email": "a@b.example"})]),
        "delete": lambda: connector.delete("contact", ["1"]),
        "find_created": lambda: connector.find_created("contact", [{}], since=timezone.now()),
    }
    for name, call in calls.items():
        with pytest.raises(ConfigError, match="does not sync 'contact' records"):
            call()
            pytest.fail(f"{name} did not refuse")

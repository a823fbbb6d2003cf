"""The three-way merge as properties: convergence, idempotence, no echo."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.merge import APP_WINS, CRM_WINS, MANUAL, NEWEST_WINS, FieldRule, merge, outbound_diff

# Relations merge like any field: a to-one relation's value is the target's id as text, a to-many
# one the sorted list of ids (sync.relations.canonical_ids), None when empty.
FIELDS = ["first_name", "last_name", "email", "company_id", "contact_ids"]
RULES = [FieldRule(f, inbound=True, outbound=True) for f in FIELDS]
values = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
ids = st.one_of(st.none(), st.sampled_from(["1", "2", "3"]))
id_lists = st.one_of(
    st.none(), st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, unique=True).map(sorted)
)
FIELD_VALUES = {"company_id": ids, "contact_ids": id_lists}
record = st.fixed_dictionaries({f: FIELD_VALUES.get(f, values) for f in FIELDS})
strategy = st.sampled_from([APP_WINS, CRM_WINS, NEWEST_WINS, MANUAL])


def sync_once(base, local, remote, strat, newer):
    """One pull then push, as the engine does it: returns the new (base, local, remote)."""
    result = merge(rules=RULES, base=base, local=local, remote=remote, strategy=strat, local_is_newer=newer)
    local = {**local, **result.to_local}
    base = result.new_base
    blocked = {c[0] for c in result.conflicts}
    pushed = outbound_diff(rules=RULES, base=base, local=local, blocked=blocked)
    remote = {**remote, **pushed}
    base = {**base, **pushed}
    return base, local, remote, result


@given(base=record, local=record, remote=record, strat=strategy, newer=st.booleans())
@settings(max_examples=400)
def test_after_one_sync_both_sides_agree_except_manual_conflicts(base, local, remote, strat, newer):
    base, local, remote, result = sync_once(base, local, remote, strat, newer)
    conflicted = {c[0] for c in result.conflicts}
    for f in FIELDS:
        if f not in conflicted:
            assert local[f] == remote[f] == base[f]
    if strat != MANUAL:
        assert not conflicted


@given(base=record, local=record, remote=record, strat=strategy, newer=st.booleans())
@settings(max_examples=300)
def test_reapplying_the_same_remote_state_changes_nothing(base, local, remote, strat, newer):
    base, local, remote, _ = sync_once(base, local, remote, strat, newer)
    again = merge(rules=RULES, base=base, local=local, remote=remote, strategy=strat, local_is_newer=newer)
    conflicted = {c[0] for c in again.conflicts}
    assert {k: v for k, v in again.to_local.items() if k not in conflicted} == {}
    assert not (again.push - conflicted)


@given(
    start=record,
    edits=st.lists(
        st.sampled_from(FIELDS).flatmap(
            lambda f: st.tuples(st.sampled_from(["local", "remote"]), st.just(f), FIELD_VALUES.get(f, values))
        ),
        max_size=12,
    ),
    strat=st.sampled_from([APP_WINS, CRM_WINS, NEWEST_WINS]),
    newer=st.booleans(),
)
@settings(max_examples=300)
def test_random_edit_sequences_on_both_sides_converge(start, edits, strat, newer):
    base, local, remote = dict(start), dict(start), dict(start)
    for side, f, value in edits:
        (local if side == "local" else remote)[f] = value
        if len(edits) % 3 == 0:  # sometimes sync between edits, sometimes only at the end
            base, local, remote, _ = sync_once(base, local, remote, strat, newer)
    base, local, remote, _ = sync_once(base, local, remote, strat, newer)
    assert local == remote == base


@given(base=record, local=record)
def test_a_pushed_change_coming_back_is_not_an_echo(base, local):
    pushed = outbound_diff(rules=RULES, base=base, local=local)
    remote = {**base, **pushed}  # the provider now holds what we sent
    new_base = {**base, **pushed}
    back = merge(
        rules=RULES, base=new_base, local=local, remote=remote, strategy=MANUAL, local_is_newer=False
    )
    assert back.to_local == {} and back.push == set() and back.conflicts == []


def test_equal_values_on_both_sides_are_never_a_conflict():
    result = merge(
        rules=RULES,
        base={"email": "a"},
        local={"email": "b"},
        remote={"email": "b"},
        strategy=MANUAL,
        local_is_newer=True,
    )
    assert result.conflicts == [] and result.new_base["email"] == "b"


def test_manual_strategy_leaves_the_field_and_lets_others_flow():
    result = merge(
        rules=RULES,
        base={"first_name": "a", "last_name": "x"},
        local={"first_name": "b", "last_name": "x"},
        remote={"first_name": "c", "last_name": "y"},
        strategy=MANUAL,
        local_is_newer=True,
    )
    assert result.conflicts == [("first_name", "b", "c", "a")]
    assert result.to_local == {"last_name": "y"} and result.new_base["first_name"] == "a"


@given(base=record, local=record, remote=record, strat=strategy, newer=st.booleans())
@settings(max_examples=300)
def test_both_sides_changes_are_settled_by_the_strategy_or_left_open_and_always_reported(
    base, local, remote, strat, newer
):
    result = merge(rules=RULES, base=base, local=local, remote=remote, strategy=strat, local_is_newer=newer)
    both = {
        f
        for f in FIELDS
        if local.get(f) != remote.get(f) and base.get(f) not in (local.get(f), remote.get(f))
    }
    settled = {s.field for s in result.settled}
    conflicted = {c[0] for c in result.conflicts}
    assert settled | conflicted == both and not settled & conflicted
    assert (settled == set()) if strat == MANUAL else (conflicted == set())
    after = sync_once(base, local, remote, strat, newer)[1]
    for s in result.settled:  # the recorded winner is what both sides hold afterwards
        assert after[s.field] == s.value == (s.local if s.winner == "local" else s.remote)


def test_newest_wins_reports_which_side_won():
    args = {"rules": RULES, "base": {"email": "a"}, "local": {"email": "b"}, "remote": {"email": "c"}}
    local_won = merge(**args, strategy=NEWEST_WINS, local_is_newer=True).settled
    remote_won = merge(**args, strategy=NEWEST_WINS, local_is_newer=False).settled
    assert [(s.field, s.winner, s.value, s.base) for s in local_won] == [("email", "local", "b", "a")]
    assert [(s.field, s.winner, s.value) for s in remote_won] == [("email", "remote", "c")]

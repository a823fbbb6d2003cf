"""The transforms field types imply (sync.fields.implied_transform): ``boolean`` and ``options``."""

import pytest

from sync.transforms import TransformError, to_local, to_remote, validate_transform

BOOLEAN = {"name": "boolean"}
AS_TEXT = {"name": "boolean", "args": {"as_string": True}}
COLOURS = {"name": "options", "args": {"map": {"red": "Red", "dark_blue": "Dark blue"}}}
HOBBIES = {"name": "options", "args": {"map": {"ski": "Skiing", "sail": "Sailing"}, "multiple": True}}


@pytest.mark.parametrize("value", ["yes", 2, 0.5, [], "maybe"])
def test_boolean_refuses_what_is_not_true_or_false(value):
    with pytest.raises(TransformError, match="boolean: expects true or false"):
        to_local(BOOLEAN, value)


def test_boolean_writes_json_or_text_and_reads_both_back():
    assert to_remote(BOOLEAN, True) is True
    assert to_remote(AS_TEXT, True) == "true" and to_remote(AS_TEXT, False) == "false"
    assert to_local(BOOLEAN, to_remote(AS_TEXT, False)) is False
    assert to_remote(AS_TEXT, None) is None


def test_options_map_values_to_labels_and_back_ignoring_the_labels_case():
    assert to_local(COLOURS, "dark_blue") == "Dark blue"
    assert to_remote(COLOURS, "Dark blue") == "dark_blue"
    assert to_remote(COLOURS, "dark BLUE") == "dark_blue"
    assert to_remote(COLOURS, "red") == "red"  # already an option value
    assert to_remote(COLOURS, "Green") == "Green"  # no such option: the provider decides
    assert to_local(COLOURS, "") is None and to_remote(COLOURS, "") is None


def test_multi_select_options_are_a_list_of_labels():
    assert to_local(HOBBIES, "ski; sail;;") == ["Skiing", "Sailing"]
    assert to_local(HOBBIES, ";") is None
    assert to_remote(HOBBIES, ["Sailing", "Skiing"]) == "sail;ski"
    assert to_remote(HOBBIES, "Skiing;Sailing") == "ski;sail"
    assert to_remote(HOBBIES, []) is None
    with pytest.raises(TransformError, match="options: expects ';'-separated text or a list"):
        to_local(HOBBIES, 5)
    comma = {"name": "options", "args": {"map": {"a": "A"}, "multiple": True, "sep": ","}}
    assert to_remote(comma, ["A", "b"]) == "a,b"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "options", "args": {}}, "missing required argument 'map'"),
        ({"name": "options", "args": {"map": {}}}, "must not be empty"),
        ({"name": "options", "args": {"map": {"a": 1}}}, "must map to text"),
        ({"name": "options", "args": {"map": {"": "A"}}}, "non-empty text keys"),
        ({"name": "options", "args": {"map": {"a": "A"}, "sep": ""}}, "must not be empty"),
        ({"name": "boolean", "args": {"as_string": "yes"}}, "must be true or false"),
    ],
)
def test_malformed_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        validate_transform(spec)

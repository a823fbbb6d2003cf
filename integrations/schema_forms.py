"""Django forms built from a template's JSON Schema, validated by the same path as the REST API.

``config_form_class(schema, stored=...)`` returns a Form class with one field per schema property,
in schema order; nested objects become fieldsets whose fields are named ``parent.child``.
``clean()`` merges the input with the stored config (a blank secret keeps its stored value) and runs
``validate_config``, so the admin accepts and refuses exactly what the API does.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import markdown
import nh3
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.safestring import SafeString, mark_safe
from jsonschema.exceptions import FormatError

from integrations.config_schema import (
    ConfigInvalid,
    format_checker,
    is_secret,
    merge_config,
    validate_config,
)

STORED_SECRET_HELP = "Stored — leave blank to keep it."  # noqa: S105 - help text, not a password
TOP_LEVEL_TITLE = "Connection"
# Strings allowed to be this long get a textarea: PEM keys and the like do not fit on one line.
TEXTAREA_MIN_LENGTH = 1000


# --- custom fields ------------------------------------------------------------------------------


class URIField(forms.CharField):
    """An http(s) URL, checked by the same rule as ``format: uri`` in config_schema (no rewriting,
    unlike Django's URLField, which would prepend ``http://``)."""

    widget = forms.URLInput

    def validate(self, value: str) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        try:
            format_checker.check(value, "uri")
        except FormatError:
            raise ValidationError("Enter an http(s) URL with a host.", code="invalid") from None


class NumberField(forms.FloatField):
    """A JSON number: an integral entry stays an int (``10``, not ``10.0``), anything else a float."""

    def to_python(self, value: Any) -> int | float | None:
        number = super().to_python(value)
        if number is not None and math.isfinite(number) and number.is_integer():
            return int(number)
        return number


class LinesField(forms.CharField):
    """A list of scalars typed one per line; blank lines are ignored."""

    widget = forms.Textarea

    def __init__(self, *, item_coerce: Callable[[str], Any] = str, item_label: str = "", **kwargs: Any):
        self.item_coerce = item_coerce
        self.item_label = item_label
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[Any]:
        lines = value if isinstance(value, list | tuple) else str(super().to_python(value)).splitlines()
        items = []
        for number, line in enumerate(lines, start=1):
            text = str(line).strip()
            if not text:
                continue
            try:
                items.append(self.item_coerce(text))
            except (TypeError, ValueError, ValidationError):
                raise ValidationError(
                    "Line %(line)s: enter %(what)s.",
                    code="invalid",
                    params={"line": number, "what": self.item_label or "a valid value"},
                ) from None
        return items


def _count_validator(minimum: int | None, maximum: int | None, unique: bool) -> Callable[[list], None]:
    def check(items: list) -> None:
        if minimum is not None and len(items) < minimum:
            raise ValidationError("Give at least %(n)s.", code="min_items", params={"n": minimum})
        if maximum is not None and len(items) > maximum:
            raise ValidationError("Give at most %(n)s.", code="max_items", params={"n": maximum})
        if unique and len({repr(item) for item in items}) != len(items):
            raise ValidationError("Each value may appear only once.", code="unique_items")

    return check


def _exclusive_validator(bound: float, *, above: bool) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value is None:
            return
        if above and not value > bound:
            raise ValidationError(
                "Must be greater than %(b)s.", code="exclusive_minimum", params={"b": bound}
            )
        if not above and not value < bound:
            raise ValidationError("Must be less than %(b)s.", code="exclusive_maximum", params={"b": bound})

    return check


# --- schema → fields ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """How one form field maps back into the config."""

    name: str
    path: tuple[str, ...]
    prop: dict[str, Any]
    secret: bool


@dataclass
class Group:
    """One fieldset: the top-level properties, or one nested object's."""

    title: str
    path: tuple[str, ...]
    required: bool
    fields: list[str] = field(default_factory=list)


def _json_type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind


def _choices(prop: dict[str, Any]) -> list[tuple[Any, str]] | None:
    """``enum`` values, or ``oneOf``/``anyOf`` of ``const`` with a ``title`` each (labelled enums)."""
    if isinstance(prop.get("enum"), list):
        return [(value, str(value)) for value in prop["enum"]]
    for keyword in ("oneOf", "anyOf"):
        options = prop.get(keyword)
        if (
            isinstance(options, list)
            and options
            and all(isinstance(o, dict) and "const" in o for o in options)
        ):
            return [(o["const"], o.get("title") or str(o["const"])) for o in options]
    return None


def _coerce_for(kind: str | None) -> Callable[[Any], Any]:
    if kind == "integer":
        return int
    if kind == "number":
        return NumberField().to_python
    return str


def _choice_coerce(choices: list[tuple[Any, str]]) -> Callable[[str], Any]:
    # The widget posts strings; map each back to the schema's own value (keeps 3 an int, "3" a str).
    values = {str(value): value for value, _ in choices}
    return lambda raw: values[str(raw)]


def _is_fieldset(prop: dict[str, Any]) -> bool:
    return _json_type(prop) == "object" and isinstance(prop.get("properties"), dict)


def _label(name: str, prop: dict[str, Any]) -> str:
    return prop.get("title") or name.replace("_", " ").capitalize()


def _string_field(
    prop: dict[str, Any], options: dict[str, Any], *, widget: forms.Widget | None = None
) -> forms.Field:
    lengths = {"min_length": prop.get("minLength"), "max_length": prop.get("maxLength")}
    validators = []
    if isinstance(prop.get("pattern"), str):
        try:
            validators.append(
                RegexValidator(re.compile(prop["pattern"]), "Enter a value in the expected format.")
            )
        except re.error:
            pass  # a pattern Python cannot compile is still enforced by the jsonschema check in clean()
    if prop.get("format") == "uri":
        return URIField(validators=validators, **lengths, **options)
    if prop.get("format") == "email":
        return forms.EmailField(validators=validators, **lengths, **options)
    long_text = (prop.get("maxLength") or 0) >= TEXTAREA_MIN_LENGTH
    widget = widget or (forms.Textarea() if long_text else forms.TextInput())
    return forms.CharField(widget=widget, validators=validators, **lengths, **options)


def _secret_field(
    prop: dict[str, Any], *, required: bool, has_stored: bool, options: dict[str, Any]
) -> forms.Field:
    """Typed blind, never given an initial value, never rendered back; optional once stored."""
    options = {**options, "required": required and not has_stored}
    if has_stored:
        options["help_text"] = " ".join(filter(None, [STORED_SECRET_HELP, options["help_text"]]))
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    plain = {k: v for k, v in prop.items() if k not in {"format", "default"}}
    return _string_field(plain, options, widget=widget)


def _number_field(kind: str, prop: dict[str, Any], options: dict[str, Any]) -> forms.Field:
    bounds = {"min_value": prop.get("minimum"), "max_value": prop.get("maximum")}
    if prop.get("multipleOf") is not None:
        bounds["step_size"] = prop["multipleOf"]
    validators = []
    if isinstance(prop.get("exclusiveMinimum"), int | float):
        validators.append(_exclusive_validator(prop["exclusiveMinimum"], above=True))
    if isinstance(prop.get("exclusiveMaximum"), int | float):
        validators.append(_exclusive_validator(prop["exclusiveMaximum"], above=False))
    cls = forms.IntegerField if kind == "integer" else NumberField
    return cls(validators=validators, **bounds, **options)


def _array_field(prop: dict[str, Any], options: dict[str, Any]) -> forms.Field:
    items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
    item_kind = _json_type(items) or ("string" if not items else None)
    counts = _count_validator(prop.get("minItems"), prop.get("maxItems"), bool(prop.get("uniqueItems")))
    choices = _choices(items)
    if choices is not None:
        return forms.TypedMultipleChoiceField(
            choices=choices,
            coerce=_choice_coerce(choices),
            widget=forms.CheckboxSelectMultiple,
            validators=[counts],
            **options,
        )
    if item_kind in {"string", "integer", "number"}:
        label = {"integer": "a whole number", "number": "a number"}.get(item_kind, "")
        return LinesField(
            item_coerce=_coerce_for(item_kind), item_label=label, validators=[counts], **options
        )
    return _json_field(options)


def _json_field(options: dict[str, Any]) -> forms.Field:
    # Anything the form has no widget for (arrays of objects, free-form maps) is typed as JSON.
    return forms.JSONField(widget=forms.Textarea(attrs={"rows": 4}), **options)


def build_field(name: str, prop: dict[str, Any], *, required: bool, stored: Any) -> forms.Field:
    """One form field for one (non-fieldset) property: label, help, required, initial and checks."""
    options: dict[str, Any] = {
        "label": _label(name, prop),
        "help_text": prop.get("description", ""),
        "required": required,
    }
    if is_secret(prop):
        return _secret_field(prop, required=required, has_stored=stored not in (None, ""), options=options)
    # An edit form starts from the stored value; a new one from the schema's default.
    initial = copy.deepcopy(stored if stored is not None else prop.get("default"))
    kind = _json_type(prop)
    choices = _choices(prop)
    if kind == "boolean":
        options["required"] = False  # unchecked is a value (false), not a missing one
        return forms.BooleanField(initial=bool(initial), **options)
    if choices is not None and kind in {None, "string", "integer", "number"}:
        coerce = _choice_coerce(choices)
        if initial is None:  # nothing preselected: the user has to choose (or may leave it empty)
            choices = [("", "---------"), *choices]
        return forms.TypedChoiceField(
            choices=choices, coerce=coerce, empty_value=None, initial=initial, **options
        )
    options["initial"] = initial
    if kind == "string":
        return _string_field(prop, options)
    if kind in {"integer", "number"}:
        return _number_field(kind, prop, options)
    if kind == "array":
        return _array_field(prop, options)
    return _json_field(options)


def _get(data: Any, path: Iterable[str]) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def collect_fields(
    schema: dict[str, Any], stored: dict[str, Any], *, skip: Callable[[dict[str, Any]], bool] | None = None
) -> tuple[dict[str, forms.Field], dict[str, FieldSpec], list[Group]]:
    """Fields (in fieldset order), their specs and the fieldsets, walking nested objects depth first.
    Properties ``skip`` accepts get no field (another step of the wizard asks for them)."""
    groups: list[Group] = []
    specs: dict[str, FieldSpec] = {}
    fields: dict[str, forms.Field] = {}

    def walk(node: dict[str, Any], path: tuple[str, ...], required_chain: bool, title: str) -> None:
        group = Group(title=title, path=path, required=required_chain)
        groups.append(group)
        required = set(node.get("required") or [])
        nested = []
        for name, prop in (node.get("properties") or {}).items():
            prop = prop if isinstance(prop, dict) else {}  # a boolean subschema: anything goes
            child = (*path, name)
            if skip is not None and skip(prop):
                continue
            if _is_fieldset(prop):
                nested.append((name, prop))
                continue
            dotted = ".".join(child)
            fields[dotted] = build_field(
                name, prop, required=required_chain and name in required, stored=_get(stored, child)
            )
            specs[dotted] = FieldSpec(name=dotted, path=child, prop=prop, secret=is_secret(prop))
            group.fields.append(dotted)
        for name, prop in nested:
            walk(prop, (*path, name), required_chain and name in required, _label(name, prop))

    walk(schema, (), True, schema.get("title") or TOP_LEVEL_TITLE)
    ordered = {name: fields[name] for group in groups for name in group.fields}
    return ordered, specs, groups


# --- the form -----------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


class ConfigForm(forms.Form):
    """Base of every generated config form; see ``config_form_class``."""

    schema: ClassVar[dict[str, Any]] = {}
    stored: ClassVar[dict[str, Any]] = {}
    fieldsets: ClassVar[list[tuple[str, list[str]]]] = []
    specs: ClassVar[dict[str, FieldSpec]] = {}
    groups: ClassVar[list[Group]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.config: dict[str, Any] | None = None

    def to_config(self) -> dict[str, Any]:
        """The nested config typed in: optional blanks and blank secrets left out (so merge_config
        keeps the stored secret), optional nested objects left out when nothing in them was set."""
        data = getattr(self, "cleaned_data", {})
        config: dict[str, Any] = {}
        meaningful: set[tuple[str, ...]] = set()
        for name, spec in self.specs.items():
            if name not in data:
                continue
            value = data[name]
            # An emptied list whose schema has a default is a choice ("none"), not "use the default".
            if _is_blank(value) and not (isinstance(value, list) and spec.prop.get("default")):
                continue
            _set(config, spec.path, value)
            if not isinstance(value, bool) or value != bool(spec.prop.get("default", False)):
                meaningful.update(spec.path[:i] for i in range(1, len(spec.path)))
        for group in reversed(self.groups):  # children before parents
            if not group.path:
                continue
            if group.required:
                parent = config
                for part in group.path:
                    parent = parent.setdefault(part, {})
            elif group.path not in meaningful:
                parent = _get(config, group.path[:-1]) if len(group.path) > 1 else config
                if isinstance(parent, dict):
                    parent.pop(group.path[-1], None)
        return config

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        merged = merge_config(self.schema, self.stored, self.to_config())
        try:
            config = validate_config(self.schema, merged)
        except ConfigInvalid as exc:
            self._attach_schema_errors(exc.errors)
        else:
            self.config = None if self.errors else config
        return cleaned

    def _attach_schema_errors(self, errors: dict[str, list[str]]) -> None:
        for path, messages in errors.items():
            name, prefix = self.field_for_path(path)
            if name is None:
                lead = f"{path}: " if path else ""
                self.add_error(None, [lead + message for message in messages])
            elif name not in self.errors:  # a field's own error already says what is wrong with it
                self.add_error(name, [prefix + message for message in messages])

    def field_for_path(self, path: str) -> tuple[str | None, str]:
        """The field a ConfigInvalid path belongs to, and a prefix naming the array item if any.

        ``"a.b"`` → field ``a.b``; ``"ips.2"`` → field ``ips`` with "Item 3: "; a nested object's
        path → its first field; ``""`` or an unknown path → ``None`` (a non-field error).
        """
        parts = path.split(".") if path else []
        prefix = ""
        while parts:
            name = ".".join(parts)
            if name in self.fields:
                return name, prefix
            children = [f for f in self.fields if f.startswith(name + ".")]
            if children:
                return children[0], prefix
            last = parts.pop()
            if last.isdecimal():
                prefix = f"Item {int(last) + 1}: "
        return None, ""


def config_form_class(
    schema: dict[str, Any],
    *,
    stored: dict[str, Any] | None = None,
    skip: Callable[[dict[str, Any]], bool] | None = None,
) -> type[ConfigForm]:
    """A ConfigForm subclass for ``schema``; with ``stored`` it edits that config: non-secret fields
    start from the stored values, and secrets that are already stored may be left blank to keep them.
    Properties ``skip`` accepts are not asked for (their stored values are kept)."""
    stored = copy.deepcopy(stored or {})
    fields, specs, groups = collect_fields(schema, stored, skip=skip)
    attrs: dict[str, Any] = dict(fields)
    attrs.update(
        schema=copy.deepcopy(schema),
        stored=stored,
        specs=specs,
        groups=groups,
        fieldsets=[(group.title, list(group.fields)) for group in groups if group.fields],
        __module__=__name__,
    )
    metaclass = type(ConfigForm)  # Django's DeclarativeFieldsMetaclass collects the fields
    return metaclass("ConfigForm", (ConfigForm,), attrs)


# --- setup instructions -------------------------------------------------------------------------

HELP_TAGS = frozenset(
    "a p br hr h1 h2 h3 h4 h5 h6 ul ol li strong em code pre blockquote table thead tbody tr th td".split()
)


def render_help_markdown(text: str) -> SafeString:
    """Setup instructions as HTML safe to show in the admin: Markdown rendered, then sanitised by nh3
    (scripts, event handlers, ``javascript:`` links and unknown tags removed)."""
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=set(HELP_TAGS),
        clean_content_tags={"script", "style"},
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 on the line above

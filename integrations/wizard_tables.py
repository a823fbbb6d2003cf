"""The wizard's "Tables & columns" step, for providers whose records live in the user's own tables
(``connectors.capabilities.TableStore``: AITable datasheets).

The template's config schema marks what this step asks for, once the connection works:

- ``"x-table": true`` — a table id, chosen from the tables the credentials see (``tables_list``);
  ``"x-entity": "<entity>"`` on it says which canonical records live there, and the step then maps
  that table's columns (read live, ``table_fields``) to the entity's canonical fields;
- ``"x-column-of": "<dotted path of an x-table property>"`` — a column of that table.

The configure step does not ask for these (``is_deferred``) and keeps their stored values. The
chosen tables and columns go into the config; the field mappings are announced
(``integrations.hooks.wizard_mappings_chosen``) for the sync layer to store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django import forms

from connectors.base import ConnectorError
from connectors.capabilities import TableStore
from connectors.registry import connector_offers, default_mappings
from connectors.types import CANONICAL_FIELDS
from integrations.config_schema import path_get, path_pop, path_set
from integrations.models import Integration, IntegrationTemplate
from integrations.services import connector_for

NOT_SYNCED = ("", "— not synced —")


def is_deferred(prop: Mapping[str, Any]) -> bool:
    """Whether the configure step leaves this property to the tables step."""
    return bool(prop.get("x-table") or prop.get("x-column-of"))


def uses_tables(template: IntegrationTemplate | None) -> bool:
    return template is not None and connector_offers(template.connector, TableStore)


def deferred_props(
    schema: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict, bool]]:
    """(path, property, required) of every deferred property, depth first."""
    required = set(schema.get("required") or [])
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "object" and "properties" in prop:
            yield from deferred_props(prop, (*path, name))
        elif is_deferred(prop):
            yield (*path, name), prop, name in required


def _set(data: dict, path: tuple[str, ...], value: Any) -> None:
    """Set the value; a blank one removes the property (so the schema's default applies)."""
    if value in (None, ""):
        path_pop(data, path)
    else:
        path_set(data, path, value)


def keep_deferred(schema: Mapping[str, Any], stored: Mapping[str, Any] | None, config: dict) -> dict:
    """``config`` (what the configure step typed) with the stored values of the deferred properties."""
    for path, _prop, _required in deferred_props(schema):
        value = path_get(stored or {}, path)
        if value not in (None, ""):
            _set(config, path, value)
    return config


def _field_name(path: tuple[str, ...]) -> str:
    return "cfg__" + "__".join(path)


class TablesStepForm(forms.Form):
    """Tables, their columns, and the column ↔ field mapping of each entity's table."""

    def __init__(self, *args: Any, integration: Integration | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.integration = integration
        self.groups: list[tuple[str, list[str]]] = []
        self.problem = ""
        self._tables: list[tuple[str, str]] = []
        self._columns: dict[str, list[str]] = {}
        self._table_paths: list[tuple[str, ...]] = []
        self._table_fields: set[str] = set()
        if integration is None:
            self.problem = "Configure the integration first."
            return
        self.store: TableStore = connector_for(integration)
        try:
            self._tables = [(t.id, t.name) for t in self.store.tables_list()]
        except ConnectorError as exc:
            self.problem = f"Could not list the tables: {exc}"
            return
        self._build()

    # --- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        schema = self.integration.template.config_schema
        stored = self.integration.config or {}
        props = list(deferred_props(schema))
        tables = [(path, prop, required) for path, prop, required in props if prop.get("x-table")]
        table_names = []
        for path, prop, required in tables:
            name = _field_name(path)
            self.fields[name] = forms.ChoiceField(
                label=prop.get("title") or path[-1],
                choices=[] if required else [("", "— none —")],
                required=required,
                help_text=prop.get("description", ""),
                initial=path_get(stored, path) or "",
            )
            self.fields[name].choices = [*self.fields[name].choices, *self._tables]
            table_names.append(name)
        self.groups.append(("Tables", table_names))
        self._table_fields = set(table_names)
        self.fields["shown_tables"] = forms.CharField(widget=forms.HiddenInput, required=False)
        self.initial["shown_tables"] = self._tables_key(tables)
        self._table_paths = [path for path, _prop, _required in tables]
        self._build_columns(props, stored)
        for path, prop, _required in tables:
            if prop.get("x-entity"):
                self._build_mapping(path, prop)

    def _tables_key(self, tables: list) -> str:
        """The tables the columns on this page belong to: when the user picks others, the page is
        shown again with their columns instead of going on."""
        return "|".join(self._chosen_table(path) for path, _prop, _required in tables)

    def _chosen_table(self, path: tuple[str, ...]) -> str:
        name = _field_name(path)
        if self.is_bound:
            return str(self.data.get(self.add_prefix(name)) or "")
        return str(self.fields[name].initial or "")

    def columns_of(self, table_id: str) -> list[str]:
        if not table_id or table_id not in dict(self._tables):
            return []
        if table_id not in self._columns:
            try:
                self._columns[table_id] = [
                    f.name for f in self.store.table_fields(table_id) if not f.read_only
                ]
            except ConnectorError as exc:
                self.problem = f"Could not read the columns of {dict(self._tables)[table_id]}: {exc}"
                self._columns[table_id] = []
        return self._columns[table_id]

    def _build_columns(self, props: list, stored: Mapping[str, Any]) -> None:
        groups: dict[str, list[str]] = {}
        for path, prop, _required in props:
            of = prop.get("x-column-of")
            if not of:
                continue
            table_path = tuple(of.split("."))
            columns = self.columns_of(self._chosen_table(table_path))
            if not columns:
                continue  # that table is not chosen (yet): nothing to pick from
            current = path_get(stored, path) or prop.get("default") or ""
            name = _field_name(path)
            self.fields[name] = forms.ChoiceField(
                label=prop.get("title") or path[-1],
                choices=[NOT_SYNCED, *((c, c) for c in columns)],
                required=False,
                initial=current if current in columns else "",
                help_text=prop.get("description", ""),
            )
            label = (
                self.fields[_field_name(table_path)].label if _field_name(table_path) in self.fields else of
            )
            groups.setdefault(f"Columns of the {label}", []).append(name)
        self.groups.extend(groups.items())

    def _build_mapping(self, path: tuple[str, ...], prop: Mapping[str, Any]) -> None:
        entity = prop["x-entity"]
        columns = self.columns_of(self._chosen_table(path))
        if not columns:
            return
        defaults = {
            row["local"]: row["remote"]
            for row in default_mappings(self.integration.template.connector).get(entity, [])
        }
        names = []
        for local in CANONICAL_FIELDS.get(entity, ()):
            if local == "external_id":
                continue
            name = f"map__{entity}__{local}"
            initial = defaults.get(local, "")
            self.fields[name] = forms.ChoiceField(
                label=local.replace("_", " "),
                choices=[NOT_SYNCED, *((c, c) for c in columns)],
                required=False,
                initial=initial if initial in columns else "",
            )
            names.append(name)
        self.groups.append((f"{prop.get('title') or entity}: columns → {entity} fields", names))

    # --- results -------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        if self.problem:
            raise forms.ValidationError(self.problem)
        cleaned = super().clean()
        chosen = "|".join(self._chosen_table(path) for path in self._table_paths)
        if cleaned.get("shown_tables", "") != chosen:
            self._show_columns_of(chosen)
            raise forms.ValidationError("Now choose the columns of the tables you picked.")
        return cleaned

    def _show_columns_of(self, chosen: str) -> None:
        """Render again with the columns of the tables just chosen, starting from their defaults
        (what was posted belonged to other tables, or to none)."""
        self.data = self.data.copy()
        self.data[self.add_prefix("shown_tables")] = chosen
        for name, field in self.fields.items():
            if name.startswith("map__") or (name.startswith("cfg__") and name not in self._table_fields):
                self.data[self.add_prefix(name)] = field.initial or ""
                self._errors.pop(name, None)

    def config_changes(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with the chosen tables and columns."""
        updated = dict(config)
        for path, _prop, _required in deferred_props(self.integration.template.config_schema):
            name = _field_name(path)
            if name in self.cleaned_data:
                _set(updated, path, self.cleaned_data[name])
        return updated

    def mappings(self) -> dict[str, dict[str, str]]:
        """Entity → canonical field → column ("" = not synced)."""
        chosen: dict[str, dict[str, str]] = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("map__"):
                _, entity, local = name.split("__", 2)
                chosen.setdefault(entity, {})[local] = value
        return chosen

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.groups if names]

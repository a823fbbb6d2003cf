"""``integrations/catalog/<key>.json`` → IntegrationTemplate rows, each schema checked first.

A template an operator has edited (``edited``) is left as it is and reported as skipped, unless the
load is forced; ``template_errors`` is the one check of a template's values, for files, the admin
and the API alike.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from connectors.registry import PLANNED, is_registered
from integrations.config_schema import with_sender_allowlist
from integrations.models import IntegrationTemplate

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
REQUIRED_KEYS = {"key", "display_name", "description", "category", "connector", "auth_type", "config_schema"}
# What an operator may set on a template (``key`` only when creating: integrations and URLs refer to it).
EDITABLE_FIELDS = (
    "display_name",
    "description",
    "category",
    "icon",
    "is_active",
    "config_schema",
    "setup_instructions",
    "connector",
    "auth_type",
    "api_version",
    "capabilities",
    "webhook_url",
)
TEMPLATE_FIELDS = {*EDITABLE_FIELDS, "version"}  # what a catalog file sets


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    skipped: tuple[str, ...] = ()  # keys of operator-edited templates whose file differs


def catalog_files(directory: Path = CATALOG_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def read_template_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path.name}: not readable JSON ({exc})") from exc


def template_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a template's values, field → reasons (empty: nothing). ``config_schema``
    must pass the JSON Schema 2020-12 metaschema and describe an object; ``connector`` must be a
    registered or planned registry key."""
    errors: dict[str, list[str]] = {}
    if "auth_type" in data and data["auth_type"] not in IntegrationTemplate.AuthType.values:
        errors["auth_type"] = [
            f"{data['auth_type']!r} is not one of {', '.join(IntegrationTemplate.AuthType.values)}"
        ]
    if "connector" in data and not (is_registered(data["connector"]) or data["connector"] in PLANNED):
        errors["connector"] = [
            f"{data['connector']!r} is neither registered nor planned in connectors/registry.py"
        ]
    if "config_schema" in data:
        schema = data["config_schema"]
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            path = "/".join(str(p) for p in exc.path)
            where = f" (at {path})" if path else ""
            errors["config_schema"] = [f"is not a valid JSON Schema (2020-12): {exc.message}{where}"]
        else:
            if not isinstance(schema, dict) or schema.get("type") != "object":
                errors["config_schema"] = ['must describe an object ("type": "object")']
    if "capabilities" in data and not isinstance(data["capabilities"], dict):
        errors["capabilities"] = ["must be an object"]
    if "version" in data and (
        isinstance(data["version"], bool) or not isinstance(data["version"], int) or data["version"] < 1
    ):
        errors["version"] = ["must be a whole number, at least 1"]
    return errors


def validate_template(data: dict[str, Any], *, source: str) -> None:
    missing = REQUIRED_KEYS - data.keys()
    if missing:
        raise CatalogError(f"{source}: missing {', '.join(sorted(missing))}")
    errors = template_errors(data)
    if errors:
        field, reasons = next(iter(errors.items()))
        raise CatalogError(f"{source}: {field} {reasons[0]}")


def catalog_load(*, directory: Path = CATALOG_DIR, force: bool = False) -> LoadResult:
    """Create or update every template from its file. Idempotent: a second run changes nothing.

    A template an operator edited keeps the operator's values (its key is reported in ``skipped``
    when the file differs); ``force`` overwrites it with the file and clears ``edited``.
    """
    entries = []
    for path in catalog_files(directory):
        data = read_template_file(path)
        validate_template(data, source=path.name)
        if data["key"] != path.stem:
            raise CatalogError(f"{path.name}: key {data['key']!r} must match the file name")
        instructions = data.get("setup_instructions", "")
        if isinstance(instructions, list):  # long Markdown is kept readable as a list of lines
            data["setup_instructions"] = "\n".join(instructions)
        data["config_schema"] = with_sender_allowlist(data["config_schema"], data.get("capabilities"))
        entries.append(data)
    created = updated = unchanged = 0
    skipped: list[str] = []
    with transaction.atomic():
        for data in entries:
            values = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
            template = IntegrationTemplate.objects.filter(key=data["key"]).first()
            if template is None:
                IntegrationTemplate.objects.create(key=data["key"], **values)
                created += 1
                continue
            changed = {k: v for k, v in values.items() if getattr(template, k) != v}
            if template.edited and not force:
                if changed:
                    skipped.append(template.key)
                else:
                    unchanged += 1
                continue
            if not changed and not template.edited:
                unchanged += 1
                continue
            for name, value in changed.items():
                setattr(template, name, value)
            template.edited = False
            template.save()
            updated += 1
    return LoadResult(created, updated, unchanged, tuple(skipped))

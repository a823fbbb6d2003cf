"""``integrations/catalog/<key>.json`` → IntegrationTemplate rows, each schema checked first."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from integrations.models import IntegrationTemplate

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
REQUIRED_KEYS = {"key", "display_name", "description", "category", "connector", "auth_type", "config_schema"}
TEMPLATE_FIELDS = {
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
}


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int


def catalog_files(directory: Path = CATALOG_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def read_template_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path.name}: not readable JSON ({exc})") from exc


def validate_template(data: dict[str, Any], *, source: str) -> None:
    missing = REQUIRED_KEYS - data.keys()
    if missing:
        raise CatalogError(f"{source}: missing {', '.join(sorted(missing))}")
    if data["auth_type"] not in IntegrationTemplate.AuthType.values:
        raise CatalogError(
            f"{source}: auth_type {data['auth_type']!r} is not one of {IntegrationTemplate.AuthType.values}"
        )
    try:
        Draft202012Validator.check_schema(data["config_schema"])
    except SchemaError as exc:
        raise CatalogError(f"{source}: config_schema is not a valid JSON Schema: {exc.message}") from exc
    if data["config_schema"].get("type") != "object":
        raise CatalogError(f"{source}: config_schema must describe an object")


def catalog_load(*, directory: Path = CATALOG_DIR) -> LoadResult:
    """Create or update every template from its file. Idempotent: a second run changes nothing."""
    entries = []
    for path in catalog_files(directory):
        data = read_template_file(path)
        validate_template(data, source=path.name)
        if data["key"] != path.stem:
            raise CatalogError(f"{path.name}: key {data['key']!r} must match the file name")
        instructions = data.get("setup_instructions", "")
        if isinstance(instructions, list):  # long Markdown is kept readable as a list of lines
            data["setup_instructions"] = "\n".join(instructions)
        entries.append(data)
    created = updated = unchanged = 0
    with transaction.atomic():
        for data in entries:
            values = {k: v for k, v in data.items() if k in TEMPLATE_FIELDS}
            template = IntegrationTemplate.objects.filter(key=data["key"]).first()
            if template is None:
                IntegrationTemplate.objects.create(key=data["key"], **values)
                created += 1
                continue
            changed = {k: v for k, v in values.items() if getattr(template, k) != v}
            if not changed:
                unchanged += 1
                continue
            for name, value in changed.items():
                setattr(template, name, value)
            template.save()
            updated += 1
    return LoadResult(created, updated, unchanged)

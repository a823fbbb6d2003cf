"""Operators manage the catalog: create, edit and deactivate templates (the admin and the API call these).

Every change marks the template ``edited``, so ``load_catalog`` keeps the operator's values instead of
putting the shipped file back (``load_catalog --force`` does). A template is never deleted here:
integrations point at it (``on_delete=PROTECT``), so retiring one means deactivating it, which takes
it out of the wizard and the sub-accounts' catalog while existing integrations keep working.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from integrations.catalog_loader import EDITABLE_FIELDS, template_errors
from integrations.models import IntegrationTemplate

logger = logging.getLogger(__name__)


class TemplateInvalid(ValueError):
    """The values break a rule the catalog files obey too; ``errors`` maps each field to its reasons."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable template fields: {', '.join(sorted(unknown))}")
    errors = template_errors(values)
    if errors:
        raise TemplateInvalid(errors)
    return values


def template_create(*, key: str, values: dict[str, Any], user=None) -> IntegrationTemplate:
    """A new catalog entry, marked edited so a catalog file of the same key never overwrites it."""
    _checked(values)
    if IntegrationTemplate.objects.filter(key=key).exists():
        raise TemplateInvalid({"key": [f"a template {key!r} already exists"]})
    template = IntegrationTemplate.objects.create(key=key, edited=True, created_by=user, **values)
    logger.info("template created", extra={"template": key, "user_id": getattr(user, "pk", None)})
    return template


def template_update(
    *, template: IntegrationTemplate, values: dict[str, Any], user=None
) -> IntegrationTemplate:
    """Change some fields; the template is marked edited when anything actually changed."""
    _checked(values)
    changed = [name for name, value in values.items() if getattr(template, name) != value]
    if not changed:
        return template
    with transaction.atomic():
        for name in changed:
            setattr(template, name, values[name])
        template.edited = True
        template.save()
    logger.info(
        "template edited",
        extra={"template": template.key, "fields": changed, "user_id": getattr(user, "pk", None)},
    )
    return template


def template_deactivate(*, template: IntegrationTemplate, user=None) -> IntegrationTemplate:
    """No longer offered (wizard, catalog, API for sub-accounts); integrations using it keep running."""
    return template_update(template=template, values={"is_active": False}, user=user)

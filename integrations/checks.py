"""System checks: catalog templates point at registered connectors; stored secrets decrypt."""

from django.core.checks import Error, Tags, register
from django.db.utils import DatabaseError

from connectors.registry import CONNECTORS, PLANNED
from integrations.catalog_loader import catalog_files, read_template_file
from integrations.crypto import DecryptionError
from integrations.models import Integration


@register()
def catalog_connectors_registered(app_configs, **kwargs):
    problems = []
    for path in catalog_files():
        connector = read_template_file(path).get("connector", "")
        if connector not in CONNECTORS and connector not in PLANNED:
            problems.append(
                Error(
                    f"Catalog template {path.name} names connector {connector!r}, which is neither "
                    "registered nor planned",
                    hint="Add it to CONNECTORS (built) or PLANNED (coming soon) in connectors/registry.py",
                    id="integrations.E002",
                )
            )
    return problems


@register(Tags.database)
def stored_secrets_decrypt(app_configs, **kwargs):
    """A wrong FIELD_ENCRYPTION_KEYS shows here at start-up, not as a crash on first read."""
    try:
        sample = Integration.objects.order_by("-id").first()
    except DecryptionError as exc:
        return [Error(str(exc), id="integrations.E001")]
    except DatabaseError:
        return []  # not migrated yet
    del sample
    return []

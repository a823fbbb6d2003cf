"""Re-encrypt every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS.

Secrets (EncryptedJSONField) row by row; personal data (EncryptedTextField, and PiiJSONField: the
JSON copies of it in links, conflicts, custom fields, outbound messages, lead events, onboarding
steps and orders, enrichment findings, attachments and idempotent API answers) in batches, written as
ENCRYPT_PII says today (so switching it on and running this encrypts rows written in clear), with
every blind index rebuilt under the current PII_INDEX_KEY (the index key is not derived from the
Fernet keys: rotating those leaves the indexes valid; changing PII_INDEX_KEY needs this run).
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from integrations.crypto import DecryptionError
from integrations.fields import EncryptedJSONField
from integrations.pii_rows import pii_fields, pii_rewrite


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest key (after prepending one to FIELD_ENCRYPTION_KEYS)."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedJSONField)]
            if not fields:
                continue
            queryset = model._base_manager.only("pk", *fields).order_by("pk")
            for row in tqdm(
                queryset.iterator(chunk_size=200),
                total=queryset.count(),
                desc=model._meta.label,
                disable=options["verbosity"] == 0,
                file=self.stderr,
            ):
                try:
                    values = {name: getattr(row, name) for name in fields}
                except DecryptionError as exc:
                    raise CommandError(f"{model._meta.label} #{row.pk}: {exc}") from None
                with transaction.atomic():
                    # update() encrypts again through the field, with the newest (first) key.
                    model._base_manager.filter(pk=row.pk).update(**values)
                total += 1
        total += self.personal_data(options["verbosity"])
        self.stdout.write(f"Re-encrypted {total} row(s)")

    def personal_data(self, verbosity: int) -> int:
        """Re-encrypt personal fields and rebuild their blind indexes, batch by batch."""
        total = 0
        for model in apps.get_models():
            if not pii_fields(model)[0]:
                continue
            with tqdm(
                total=model._base_manager.count(),
                desc=f"{model._meta.label} (personal data)",
                disable=verbosity == 0,
                file=self.stderr,
            ) as bar:
                try:
                    total += pii_rewrite(model, on_batch=bar.update)
                except DecryptionError as exc:
                    raise CommandError(f"{model._meta.label}: {exc}") from None
        return total

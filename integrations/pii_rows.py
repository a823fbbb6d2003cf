"""Rewrite stored personal data: encrypt (or re-encrypt with the newest key) and rebuild blind indexes.

One routine serves the data migration that encrypts existing rows and ``manage.py reencrypt``:
rows are read in primary-key batches, locked, decrypted (whatever key or form they were written
in), and written back with one UPDATE per batch (executemany) through the fields, so the result is
what ENCRYPT_PII, FIELD_ENCRYPTION_KEYS[0] and PII_INDEX_KEY say today. Running it twice is harmless.
"""

from collections.abc import Callable, Iterable

from django.db import connection, migrations, models, transaction

from integrations.fields import BlindIndexField, EncryptedTextField, PiiJSONField

BATCH_SIZE = 1000

PersonalField = EncryptedTextField | PiiJSONField


def pii_fields(model: type[models.Model]) -> tuple[list[PersonalField], list[BlindIndexField]]:
    """The model's encrypted personal fields (text, and JSON copies of personal data such as a
    link's base or custom fields) and the blind indexes kept from them."""
    concrete = model._meta.concrete_fields
    return (
        [f for f in concrete if isinstance(f, PersonalField)],
        [f for f in concrete if isinstance(f, BlindIndexField)],
    )


def pii_rewrite(
    model: type[models.Model],
    *,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
    clear: bool = False,
    only: Iterable[str] | None = None,
) -> int:
    """Rewrite every row's personal fields and blind indexes; returns the number of rows.

    Each batch is its own transaction (rows locked while rewritten), so a large table is never
    held in one and an interrupted run simply starts over. ``on_batch(n)`` reports progress.
    ``clear``: write the values in clear whatever ENCRYPT_PII says (reversing the migration).
    ``only``: these fields (and their indexes) alone: a migration converting some columns leaves
    the others as they are. Raises ``DecryptionError`` (naming the field) on a value no configured key opens.
    """
    encrypted, indexes = pii_fields(model)
    if only is not None:
        wanted = set(only)
        encrypted = [f for f in encrypted if f.name in wanted]
        indexes = [f for f in indexes if f.source in wanted]
    if not encrypted:
        return 0
    names = [f.attname for f in encrypted]
    columns = [*encrypted, *indexes]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608 (identifiers from model metadata)
    manager, last, total = model._base_manager, 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                manager.filter(pk__gt=last)
                .order_by("pk")
                .select_for_update()
                .values_list("pk", *names)[:batch_size]
            )
            if not batch:
                return total
            params = []
            for pk, *values in batch:
                values_ = dict(zip(names, values, strict=True))
                params.append(
                    [
                        f.clear_db_value(values_[f.attname])
                        if clear
                        else f.get_db_prep_save(values_[f.attname], connection)
                        for f in encrypted
                    ]
                    + [f.pre_save(_Row(values_), False) for f in indexes]
                    + [pk]
                )
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)
        last, total = batch[-1][0], total + len(batch)
        if on_batch is not None:
            on_batch(len(batch))


class _Row:
    """Attribute access over one row's clear values, for ``BlindIndexField.pre_save``."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def pii_rewrite_operation(app_label: str, fields: dict[str, list[str]]) -> migrations.RunPython:
    """The data migration that follows a migration making columns personal: rewrite ``fields``
    (model name → field names) of ``app_label`` encrypted, or in clear when migrating backwards
    (which the schema migration's reversal then turns back into its old type)."""

    def encrypt_rows(apps, schema_editor) -> None:
        for name, names in fields.items():
            pii_rewrite(apps.get_model(app_label, name), only=names)

    def clear_rows(apps, schema_editor) -> None:
        for name, names in fields.items():
            pii_rewrite(apps.get_model(app_label, name), only=names, clear=True)

    return migrations.RunPython(encrypt_rows, clear_rows, elidable=False)

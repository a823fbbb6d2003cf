"""Encrypt the personal fields of existing rows and fill their blind indexes, in batches.

Not atomic: each batch of 1,000 rows commits on its own (``integrations.pii_rows.pii_rewrite``), so a
large table is never locked in one transaction; rows not yet rewritten stay readable (reads accept
clear text), and running it again finishes the job. Backwards it writes the values in clear, which
the previous schema's varchar columns can hold.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite

MODELS = ("Contact", "Conversation", "Activity")


def encrypt_rows(apps, schema_editor):
    for name in MODELS:
        pii_rewrite(apps.get_model("sync", name))


def clear_rows(apps, schema_editor):
    for name in MODELS:
        pii_rewrite(apps.get_model("sync", name), clear=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sync", "0021_pii_encrypted")]

    operations = [migrations.RunPython(encrypt_rows, clear_rows, elidable=False)]

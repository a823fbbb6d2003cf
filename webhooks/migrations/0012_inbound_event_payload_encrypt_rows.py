"""Encrypt existing inbound events' payloads (0011 made the column text), in batches of 1,000
committed one by one (``integrations.pii_rows.pii_rewrite``). Rows not yet rewritten stay readable
and processable; running it again finishes the job. Backwards it writes JSON text in clear, which
0011's reversal turns back into jsonb.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite


def encrypt_rows(apps, schema_editor):
    pii_rewrite(apps.get_model("webhooks", "InboundEvent"), only=["payload"])


def clear_rows(apps, schema_editor):
    pii_rewrite(apps.get_model("webhooks", "InboundEvent"), only=["payload"], clear=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("webhooks", "0011_inbound_event_payload_pii")]

    operations = [migrations.RunPython(encrypt_rows, clear_rows, elidable=False)]

"""Encrypt existing inbound events' payloads (0011 made the column text), in batches of 1,000
committed one by one (``integrations.pii_rows.pii_rewrite``). Rows not yet rewritten stay readable
and processable; running it again finishes the job. Backwards it writes JSON text in clear, which
0011's reversal turns back into jsonb.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite_operation


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("webhooks", "0011_inbound_event_payload_pii")]

    operations = [pii_rewrite_operation("webhooks", {"InboundEvent": ["payload"]})]

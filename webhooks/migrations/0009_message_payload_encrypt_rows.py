"""Encrypt existing outbound messages' payloads (0008 made the column text), in batches of 1,000
committed one by one (``integrations.pii_rows.pii_rewrite``). Rows not yet rewritten stay readable
and deliverable; running it again finishes the job. Backwards it writes JSON text in clear, which
0008's reversal turns back into jsonb.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite_operation


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("webhooks", "0008_pii_json_copies")]

    operations = [pii_rewrite_operation("webhooks", {"Message": ["payload"]})]

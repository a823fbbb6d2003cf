"""Encrypt the JSON copies of personal data in existing rows (0023 made their columns text).

Links' agreed values, conflicts' sides, create intents and every record's custom fields, in batches
of 1,000 committed one by one (``integrations.pii_rows.pii_rewrite``, as 0022). Rows not yet
rewritten stay readable (reads accept JSON text), and running it again finishes the job. Backwards
it writes JSON text in clear, which 0023's reversal turns back into jsonb.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite_operation

FIELDS = {
    "EntityLink": ["base"],
    "Conflict": ["local_value", "remote_value", "base_value", "resolved_value"],
    "CreateIntent": ["payload", "base"],
    "Contact": ["custom_fields"],
    "Company": ["custom_fields"],
    "Deal": ["custom_fields"],
    "Conversation": ["custom_fields"],
    "Activity": ["custom_fields"],
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sync", "0023_pii_json_copies")]

    operations = [pii_rewrite_operation("sync", FIELDS)]

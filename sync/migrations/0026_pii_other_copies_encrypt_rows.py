"""Encrypt the other copies of personal data in existing rows (0025 made their columns text and
gave client orders an e-mail blind index).

Lead events' payloads, onboarding steps' payloads and results, client orders' names and e-mails
(with their index), payroll audits' corrections, enrichment findings and job summaries, message
attachments and stored idempotent API answers, in batches of 1,000 committed one by one
(``integrations.pii_rows.pii_rewrite``, as 0022 and 0024). Rows not yet rewritten stay readable
(reads accept clear values), and running it again finishes the job. Backwards it writes the values
in clear, which 0025's reversal turns back into jsonb and varchar.
"""

from django.db import migrations

from integrations.pii_rows import pii_rewrite_operation

FIELDS = {
    "LeadEventOutbox": ["payload"],
    "FlowStep": ["payload", "result"],
    "ClientOrder": ["client_name", "email"],
    "AuditResult": ["corrections"],
    "Contact": ["enriched"],
    "Company": ["enriched"],
    "EnrichmentJob": ["enrichments"],
    "Activity": ["attachments"],
    "IdempotencyKey": ["response"],
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sync", "0025_pii_other_copies")]

    operations = [pii_rewrite_operation("sync", FIELDS)]

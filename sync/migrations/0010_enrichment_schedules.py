from django.db import migrations

from sync.schedules import schedules_operation

ENRICHMENT_SCHEDULES = ("Enrichment sweep (feed and drain the queue)", "Re-score records whose engagement decayed")


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0009_enrichment"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedules_operation(*ENRICHMENT_SCHEDULES)]

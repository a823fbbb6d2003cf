from django.db import migrations

from sync.schedules import schedules_operation

RENEW_SCHEDULE = "Renew expiring webhook subscriptions"


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0007_discovered_fields"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedules_operation(RENEW_SCHEDULE)]

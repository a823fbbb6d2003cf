from django.db import migrations

from sync.schedules import schedules_operation

NAMES = ("Poll integrations that receive no webhooks",)


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0014_conversations"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedules_operation(*NAMES)]

from django.db import migrations

from sync.schedules import schedules_operation

NAMES = ("Resume runs whose worker stopped",)


class Migration(migrations.Migration):

    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("sync", "0019_lead_events"),
    ]

    operations = [schedules_operation(*NAMES)]

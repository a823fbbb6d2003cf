from django.db import migrations

from sync.schedules import schedules_operation

NAMES = (
    "Onboarding sweep (run due portal, order and audit steps)",
    "Find records deleted at providers that do not report deletions",
)


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0012_onboarding"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [schedules_operation(*NAMES)]

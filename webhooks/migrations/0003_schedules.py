from django.db import migrations

from webhooks.inbound.schedules import SCHEDULES as INBOUND
from webhooks.outbound.schedules import SCHEDULES as OUTBOUND


def install(apps, schema_editor):
    from sync.schedules import schedules_install

    schedules_install(apps.get_model("django_celery_beat", "PeriodicTask"),
                      apps.get_model("django_celery_beat", "IntervalSchedule"), INBOUND + OUTBOUND)


def uninstall(apps, schema_editor):
    names = [s[0] for s in INBOUND + OUTBOUND]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_message_constraints"),
        ("sync", "0002_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]

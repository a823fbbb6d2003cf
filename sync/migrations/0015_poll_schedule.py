from django.db import migrations

NAMES = ("Poll integrations that receive no webhooks",)


def install(apps, schema_editor):
    from sync.schedules import SCHEDULES, schedules_install

    schedules_install(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        [s for s in SCHEDULES if s[0] in NAMES],
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=NAMES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0014_conversations"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]

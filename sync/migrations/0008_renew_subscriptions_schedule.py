from django.db import migrations

RENEW_SCHEDULE = "Renew expiring webhook subscriptions"


def install(apps, schema_editor):
    from sync.schedules import SCHEDULES, schedules_install

    schedules_install(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        [s for s in SCHEDULES if s[0] == RENEW_SCHEDULE],
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=RENEW_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0007_discovered_fields"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]

from django.db import migrations

NAMES = (
    "Onboarding sweep (run due portal, order and audit steps)",
    "Find records deleted at providers that do not report deletions",
)


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
        ("sync", "0012_onboarding"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]

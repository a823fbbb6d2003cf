from django.db import migrations


def install(apps, schema_editor):
    from sync.schedules import schedules_install

    schedules_install(apps.get_model("django_celery_beat", "PeriodicTask"),
                      apps.get_model("django_celery_beat", "IntervalSchedule"))


def uninstall(apps, schema_editor):
    from sync.schedules import SCHEDULES

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0001_engine"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, uninstall)]

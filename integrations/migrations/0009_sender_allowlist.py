from django.db import migrations

from integrations.config_schema import with_sender_allowlist


def offer_allowlist(apps, schema_editor):
    """Templates that receive webhooks offer the sender allowlist (operator-edited ones too)."""
    IntegrationTemplate = apps.get_model("integrations", "IntegrationTemplate")
    for template in IntegrationTemplate.objects.all():
        schema = with_sender_allowlist(template.config_schema, template.capabilities)
        if schema != template.config_schema:
            IntegrationTemplate.objects.filter(pk=template.pk).update(config_schema=schema)


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0008_last_test_details"),
    ]

    operations = [migrations.RunPython(offer_allowlist, migrations.RunPython.noop)]

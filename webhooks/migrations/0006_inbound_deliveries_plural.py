from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("webhooks", "0005_receiver_indexes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="inbounddelivery",
            options={"ordering": ["-id"], "verbose_name_plural": "inbound deliveries"},
        ),
    ]

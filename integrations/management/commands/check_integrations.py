from django.core.management.base import BaseCommand

from integrations.models import Integration
from integrations.services import integration_test


class Command(BaseCommand):
    help = "Test every active integration's connection now and print its health."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Include paused and errored integrations")

    def handle(self, *args, **options):
        qs = Integration.objects.select_related("template", "subaccount").order_by("pk")
        if not options["all"]:
            qs = qs.filter(status=Integration.Status.ACTIVE)
        failures = 0
        for integration in qs:
            result = integration_test(integration=integration, actor="system:check_integrations")
            failures += not result.ok
            mark = "ok  " if result.ok else "FAIL"
            self.stdout.write(
                f"{mark} #{integration.pk} {integration.subaccount.slug}/{integration.name}: {result.message}"
            )
        self.stdout.write(f"{qs.count()} checked, {failures} failing")

from django.core.management.base import BaseCommand, CommandError

from integrations.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the part before the dot)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix: str, **options):
        updated = ApiKey.objects.filter(prefix=prefix.split(".")[0], revoked=False).update(revoked=True)
        if not updated:
            raise CommandError(f"No active API key with prefix {prefix!r}")
        self.stdout.write(f"Revoked {updated} key(s)")

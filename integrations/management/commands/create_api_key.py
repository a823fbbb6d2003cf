from django.core.management.base import BaseCommand, CommandError

from integrations.models import ApiKey, SubAccount


class Command(BaseCommand):
    help = "Create an API key for a sub-account and print it, alone on one line, once."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, slug: str, name: str, **options):
        sub = SubAccount.objects.filter(slug=slug).first()
        if sub is None:
            raise CommandError(f"No sub-account {slug!r}")
        _, key = ApiKey.objects.create_key(name=name, subaccount=sub)
        self.stdout.write(key)

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from integrations.models import SubAccount


class Command(BaseCommand):
    help = "Create a sub-account (tenant)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--region", default="US", help="Default phone region (ISO country)")

    def handle(self, *args, slug: str, name: str, region: str, **options):
        try:
            sub = SubAccount.objects.create(slug=slug, name=name or slug, default_region=region.upper())
        except IntegrityError:
            raise CommandError(f"Sub-account {slug!r} already exists") from None
        self.stdout.write(f"Created sub-account {sub.slug} (id {sub.pk})")

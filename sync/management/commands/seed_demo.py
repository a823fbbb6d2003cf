"""A demo sub-account wired to the sandbox emulators, with data on both sides.

It lives in sync (not integrations) because it writes canonical records, which are sync's.

Idempotent: a second run leaves existing demo integrations alone and only prints the login.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connectors.registry import emulator_module
from integrations.models import ApiKey, Integration, IntegrationTemplate, Membership, SubAccount
from integrations.sandbox import sandbox_integration_connect, sandbox_template
from sync.enrichment.actions import profile_for
from sync.models import Contact, OwnerRule
from sync.services import records_bulk_upsert

DEMO_PROVIDERS = (
    "hubspot",
    "salesforce",
    "pipedrive",
    "zoho",
    "enrichment_http",
    "missionx",
    "aitable",
    "alacarte",
    # Seed 003's agency stack: a CRM with calendar bookings, and lead ads feeding it.
    "gohighlevel",
    "facebook_leads",
    "google_analytics",
)
# Config the demo adds to an emulator's: AITable runs seed 000's onboarding flow with MissionX.
DEMO_SETTINGS = {"aitable": {"onboarding": {"enabled": True, "price_per_employee": 4.5, "currency": "USD"}}}


class Command(BaseCommand):
    help = "Create the demo sub-account, admin login and sandbox-backed integrations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where this server will listen (the emulators live under /sandbox/)",
        )
        parser.add_argument("--username", default="admin")

    def handle(self, *args, base_url: str, username: str, **options):
        if not settings.SANDBOX:
            raise CommandError("seed_demo wires integrations to the sandbox emulators: set SANDBOX=on")
        if not IntegrationTemplate.objects.exists():
            call_command("load_catalog", verbosity=0)
        password = settings.DEMO_ADMIN_PASSWORD
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(username=username, email="", password=password)
        sub, created = SubAccount.objects.get_or_create(slug="demo", defaults={"name": "Demo Agency Client"})
        Membership.objects.get_or_create(user=user, subaccount=sub)
        if created:
            self._automation(sub)
        self._seed_records(sub)
        sandbox = base_url.rstrip("/") + "/sandbox"
        for key in DEMO_PROVIDERS:
            if Integration.objects.filter(subaccount=sub, template=sandbox_template(key)).exists():
                continue
            self._wire(sub, key, sandbox)
        if not ApiKey.objects.filter(subaccount=sub, name="demo", revoked=False).exists():
            _, api_key = ApiKey.objects.create_key(name="demo", subaccount=sub)
            self.stdout.write(f"Demo API key (shown once): {api_key}")
        self.stdout.write(f"Admin: {base_url.rstrip('/')}/admin/  login: {username} / {password}")

    def _automation(self, sub: SubAccount) -> None:
        """Seed 002's switches on, with an ideal customer profile and a sales team taking turns."""
        for name in ("auto_enrich", "auto_score", "auto_assign", "auto_create_tasks", "auto_create_deals"):
            setattr(sub, name, True)
        sub.deal_threshold = 70
        sub.save()
        profile = profile_for(sub)
        profile.icp_industries = ["SaaS", "Fintech", "Software"]
        profile.icp_sizes = ["51-200", "201-1000", "1001-5000"]
        profile.icp_countries = ["US", "GB"]
        profile.icp_titles = ["VP", "Head", "CTO", "Director", "Buyer"]
        profile.deal_stage = "appointmentscheduled"  # a stage HubSpot's default pipeline has
        profile.save()
        OwnerRule.objects.get_or_create(
            subaccount=sub,
            name="UK & Ireland",
            defaults={"position": 1, "countries": ["GB", "IE"], "team": ["uk-rep@demo.example"]},
        )
        OwnerRule.objects.get_or_create(
            subaccount=sub,
            name="Everyone else",
            defaults={"position": 2, "team": ["alice@demo.example", "bob@demo.example"]},
        )
        self.stdout.write("Enrichment, scoring and automation switched on for the demo sub-account")

    def _seed_records(self, sub: SubAccount) -> None:
        """Our side of the demo: a few records, some sharing emails with the emulators' seeds (matching)."""
        if Contact.objects.filter(subaccount=sub).exists():
            return
        contacts = [
            {"email": f"seed{i}@example.com", "first_name": f"Known{i}", "job_title": "Buyer"}
            for i in range(1, 4)
        ]
        contacts += [
            {
                "email": f"demo{i}@example.com",
                "first_name": f"Demo{i}",
                "last_name": "Lead",
                "phone": f"+1202555{i:04d}",
                "external_id": f"app-{i}",
            }
            for i in range(1, 16)
        ]
        companies = [
            {"name": f"Demo Co {i}", "domain": f"demo{i}.example.com", "industry": "Software"}
            for i in range(1, 6)
        ]
        deals = [
            {
                "name": f"Demo deal {i}",
                "amount": str(1000 * i),
                "currency": "USD",
                "stage": "qualified",
                "close_date": f"2027-0{i}-15",
            }
            for i in range(1, 6)
        ]

        def upsert(entity: str, rows: list[dict]) -> list[int]:
            results = records_bulk_upsert(
                subaccount=sub, entity=entity, records=rows, origin="system:seed_demo"
            )
            return [result.id for result in results]

        # Related as a CRM would have them: each demo contact works at a company, each deal has a
        # company and two of its people.
        company_ids = upsert("company", companies)
        for i, row in enumerate(contacts):
            row["company_id"] = company_ids[i % len(company_ids)]
        contact_ids = upsert("contact", contacts)
        for i, row in enumerate(deals):
            people = [pk for j, pk in enumerate(contact_ids) if j % len(company_ids) == i % len(company_ids)]
            row.update(company_id=company_ids[i % len(company_ids)], contact_ids=people[:2])
        upsert("deal", deals)
        self.stdout.write(f"Seeded {len(contacts)} contacts, {len(companies)} companies, {len(deals)} deals")

    @transaction.atomic
    def _wire(self, sub: SubAccount, key: str, sandbox: str) -> None:
        emulator = emulator_module(key).emulator
        for object_type, count in emulator.demo_seed.items():
            if not emulator.records(object_type).exists():
                emulator.seed(object_type, count, None)
        template = sandbox_template(key)
        integration = sandbox_integration_connect(
            sub,
            key,
            sandbox,
            actor="system:seed_demo",
            name=f"{template.display_name} (sandbox)",
            settings=DEMO_SETTINGS.get(key),
            reason="demo wired to the sandbox emulator",
        )
        # Its webhooks (AITable's automation, MissionX's events) reach this server's receiver.
        receiver = f"{sandbox.removesuffix('/sandbox')}/webhooks/in/{key}/{integration.pk}/"
        emulator.webhooks_connect(
            receiver, config=integration.config, secret=str(integration.webhook_secret or "")
        )
        self.stdout.write(f"Wired {template.display_name} to {sandbox}/{key}/")

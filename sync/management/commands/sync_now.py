"""Run one sync of an integration in the foreground, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from connectors.base import CANONICAL_ENTITIES
from integrations.models import Integration
from sync.runs import Progress, SyncBusy, SyncNotAllowed, sync_run_execute, sync_run_request


class Command(BaseCommand):
    help = "Sync an integration now (delta by default) and print the run's counters."

    def add_arguments(self, parser):
        parser.add_argument("integration_id", type=int)
        parser.add_argument("--full", action="store_true", help="Re-read everything instead of changes only")
        parser.add_argument("--entity", action="append", dest="entities", choices=list(CANONICAL_ENTITIES))

    def handle(self, *args, integration_id: int, full: bool, entities, **options):
        integration = (
            Integration.objects.select_related("template", "subaccount").filter(pk=integration_id).first()
        )
        if integration is None:
            raise CommandError(f"No integration {integration_id}")
        try:
            run = sync_run_request(
                integration=integration,
                kind="full" if full else "delta",
                entities=entities,
                requested_by="cli:sync_now",
                enqueue=False,
            )
        except (SyncBusy, SyncNotAllowed) as exc:
            raise CommandError(str(exc)) from None
        bar = tqdm(desc=f"sync #{run.pk}", unit=" rec", file=self.stderr, disable=options["verbosity"] == 0)

        def progress(step: Progress) -> None:
            bar.set_postfix_str(f"{step.phase} {step.entity}")
            bar.update(step.outcome.processed)

        try:
            run = sync_run_execute(run_id=run.pk, progress=progress)
        finally:
            bar.close()
        self.stdout.write(
            f"sync #{run.pk} {run.status}: processed {run.processed}, created {run.created}, updated {run.updated}, "
            f"unchanged {run.unchanged}, deleted {run.deleted}, pushed {run.pushed}, conflicts {run.conflicts}, "
            f"failed {run.failed}" + (f" — {run.error}" if run.error else "")
        )
        if run.status == "failed":
            raise CommandError("the sync failed")

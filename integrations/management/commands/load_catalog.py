"""``manage.py load_catalog``: create or update IntegrationTemplate rows from integrations/catalog/.

Templates an operator edited are kept and named in the output; ``--force`` overwrites them too.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.catalog_loader import CATALOG_DIR, CatalogError, catalog_load


class Command(BaseCommand):
    help = "Load the integration catalog (one JSON file per template). Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--directory",
            type=Path,
            default=CATALOG_DIR,
            help="Folder of <key>.json templates (default: the catalog)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also overwrite templates an operator edited in the admin or the API",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["directory"]
        if not directory.is_dir():  # a typo would otherwise "load" an empty catalog and say so happily
            raise CommandError(f"{directory} is not a directory")
        try:
            result = catalog_load(directory=directory, force=options["force"])
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] > 0:
            self.stdout.write(
                f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
            )
        if result.skipped:  # shown at any verbosity: the operator's edits won over the files
            self.stdout.write(
                f"{len(result.skipped)} skipped, edited by an operator: {', '.join(result.skipped)} "
                "(run with --force to overwrite them with the catalog files)"
            )

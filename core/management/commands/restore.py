"""Bring a backup into an empty database and empty storage, then migrate if the code is newer."""

from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from core.backup import BackupError, backup_restore, patient_id_key_check


class Command(BaseCommand):
    help = (
        "Restore a backup folder written by `manage.py backup` into an EMPTY database "
        "(DATABASE_URL) and EMPTY storage (MEDIA_ROOT or the S3 bucket). Checksums are "
        "verified first; a target that holds data is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="The backup folder (pedslink-…).")

    def handle(self, *args: object, folder: Path, **kw: object) -> None:
        try:
            manifest = backup_restore(folder=folder, log=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if manifest.get("patient_id_key_check") not in (None, patient_id_key_check()):
            self.stderr.write(
                "Warning: PATIENT_ID_HMAC_KEY differs from the one this backup was made with: "
                "national/insurance IDs entered from now on will not match the restored "
                "children's. Set the original key before starting PedsLink."
            )
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            self.stdout.write(
                f"This code is newer than the backup: applying {len(plan)} migration(s)"
            )
            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the backup of {manifest['created']}: "
                f"{sum(manifest['counts'].values())} rows, "
                f"{sum(1 for e in manifest['files'] if e['path'].startswith('files/'))} files."
            )
        )

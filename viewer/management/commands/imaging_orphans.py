"""Find (and delete) stored DICOM files that no instance or conflict row references."""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from viewer.ingest.orphans import orphans_sweep


class Command(BaseCommand):
    help = (
        "Delete stored DICOM files no row references, older than the grace period "
        "(IMAGING_ORPHAN_GRACE_HOURS). The beat schedule runs the same sweep hourly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=None,
            help=f"Only files older than this (default {settings.IMAGING_ORPHAN_GRACE_HOURS}).",
        )

    def handle(self, *args: object, dry_run: bool, grace_hours: float | None, **kw: object) -> None:
        grace = None if grace_hours is None else dt.timedelta(hours=grace_hours)
        report = orphans_sweep(grace=grace, dry_run=dry_run)
        for key in report.deleted:
            self.stdout.write(("would delete " if dry_run else "deleted ") + key)
        self.stdout.write(("dry run: " if dry_run else "") + str(report))

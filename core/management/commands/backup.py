"""Write a backup folder (database snapshot, stored files, manifest), or verify one."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.backup import BackupError, backup_create, backup_dir, backup_verify, backups_prune


class Command(BaseCommand):
    help = (
        "Back up the database and the stored files into BACKUP_DIR/pedslink-YYYYmmdd-HHMMSS/ "
        "(UTC), or check an existing backup with --verify FOLDER."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", type=Path, default=None, help="Folder to write into (default BACKUP_DIR)."
        )
        parser.add_argument(
            "--with-render-cache",
            action="store_true",
            help="Also copy the render caches (they can be rebuilt; they make backups larger).",
        )
        parser.add_argument(
            "--keep",
            type=int,
            default=None,
            help="After a complete backup, delete all but the newest KEEP backups in the folder.",
        )
        parser.add_argument(
            "--verify",
            type=Path,
            metavar="FOLDER",
            default=None,
            help="Check FOLDER's files against its manifest (sizes, SHA-256); restore nothing.",
        )

    def handle(
        self,
        *args: object,
        output: Path | None,
        with_render_cache: bool,
        keep: int | None,
        verify: Path | None,
        **kw: object,
    ) -> None:
        try:
            if verify is not None:
                self._verify(verify)
            else:
                self._backup(output, with_render_cache, keep)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc

    def _verify(self, folder: Path) -> None:
        manifest, report = backup_verify(folder)
        if report.problems:
            raise CommandError(f"Backup {folder} is NOT intact:\n  " + "\n  ".join(report.problems))
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {folder} is intact: {report.files} files, {report.bytes} bytes, "
                f"checksums match ({manifest['database']['engine']}, made {manifest['created']})."
            )
        )

    def _backup(self, output: Path | None, with_render_cache: bool, keep: int | None) -> None:
        if keep is not None and keep < 1:
            raise CommandError("--keep must be at least 1.")
        folder, missing = backup_create(
            destination=output, with_render_cache=with_render_cache, log=self.stdout.write
        )
        if missing:
            raise CommandError(
                f"Backup written to {folder}, but {len(missing)} files the database names were "
                "missing from storage (listed in its manifest):\n  " + "\n  ".join(missing)
            )
        self.stdout.write(self.style.SUCCESS(f"Backup complete: {folder}"))
        if keep is not None:
            for old in backups_prune(keep=keep, root=output or backup_dir()):
                self.stdout.write(f"Deleted old backup {old}")

"""Stored DICOM files that no row references, deleted after a grace period.

A request can die between "store" and "index" (a worker killed, a transaction rolled back
after the file was written): the bytes stay in storage with no Instance or IngestConflict
row naming them. This sweep walks only the DICOM prefix (`dicom/YYYY/MM/DD/…`, where
`viewer.storage.store_file` writes, photos and PDFs included) through Django's storage API
(`listdir`, so it works on local disk and S3-compatible storage alike). Other stored things
live under other prefixes and are never looked at: the render cache (`render-cache/`) and
consultation attachments (`attachments/`, a FileField).

A file is deleted only if it is older than the grace period (default 24 h: no upload
request or batch lasts that long) and, checked again just before deleting, still no row
names it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.timezone import now

from viewer.models import IngestConflict, Instance

log = logging.getLogger(__name__)

PREFIX = "dicom"
BATCH = 500
_DAY = re.compile(r"^dicom/(\d{4})/(\d{2})/(\d{2})$")


@dataclass
class SweepReport:
    examined: int = 0
    referenced: int = 0
    too_recent: int = 0
    deleted: list[str] = field(default_factory=list)
    bytes_deleted: int = 0

    def __str__(self) -> str:
        return (
            f"examined {self.examined} stored DICOM files: {self.referenced} referenced, "
            f"{self.too_recent} unreferenced but within the grace period, "
            f"{len(self.deleted)} orphans removed ({self.bytes_deleted} bytes)"
        )


def _directories(path: str) -> Iterator[tuple[str, list[str]]]:
    """(directory, file names) for every directory under `path`, depth first."""
    try:
        dirs, files = default_storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    yield path, files
    for name in sorted(dirs):
        yield from _directories(f"{path}/{name}")


def _day_ended_before(directory: str, cutoff: dt.datetime) -> bool:
    """A dated folder whose whole day (with a day's slack for time zones) is before cutoff:
    no per-file modification time needed (one HEAD request each on S3)."""
    match = _DAY.match(directory)
    if not match:
        return False
    day = dt.datetime(*map(int, match.groups()), tzinfo=dt.UTC)
    return day + dt.timedelta(days=2) < cutoff


def _referenced(keys: list[str]) -> set[str]:
    return set(
        Instance.objects.filter(storage_key__in=keys).values_list("storage_key", flat=True)
    ) | set(
        IngestConflict.objects.filter(storage_key__in=keys).values_list("storage_key", flat=True)
    )


def orphans_sweep(*, grace: dt.timedelta | None = None, dry_run: bool = False) -> SweepReport:
    """Delete (or, dry run, only list) unreferenced DICOM files older than `grace`."""
    if grace is None:
        grace = dt.timedelta(hours=settings.IMAGING_ORPHAN_GRACE_HOURS)
    cutoff = now() - grace
    report = SweepReport()
    for directory, names in _directories(PREFIX):
        keys = [f"{directory}/{name}" for name in names]
        report.examined += len(keys)
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            held = _referenced(batch)
            report.referenced += len(held)
            old_day = _day_ended_before(directory, cutoff)
            for key in batch:
                if key in held:
                    continue
                if not old_day and default_storage.get_modified_time(key) >= cutoff:
                    report.too_recent += 1
                    continue
                _remove(key, report, dry_run=dry_run)
    log.info("orphan sweep%s: %s", " (dry run)" if dry_run else "", report)
    return report


def _remove(key: str, report: SweepReport, *, dry_run: bool) -> None:
    # A row could have been written since the batch was read (a replace swaps keys).
    if _referenced([key]):
        report.referenced += 1
        return
    size = default_storage.size(key)
    if not dry_run:
        default_storage.delete(key)
        log.warning("deleted orphaned stored DICOM file %s (%d bytes)", key, size)
    report.deleted.append(key)
    report.bytes_deleted += size

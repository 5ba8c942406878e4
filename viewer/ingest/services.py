"""Every write to the imaging index. Browser upload, STOW-RS, C-STORE and photos all call
`instance_ingest`: check → store → index → on commit, queue the render caches."""

from __future__ import annotations

import functools
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from consult.models import Hospital, Patient, PatientIdentifier, Role, User
from core.audit import Action, audit_record
from viewer import storage
from viewer.ingest import reader as ingest
from viewer.ingest.reader import Header, IngestError, Limits
from viewer.models import IngestConflict, Instance, RenderInfo, Series, Source, Study
from viewer.rendering.queue import instance_render_caches_queue, render_caches_queue

# A long batch (zip, STOW body, C-STORE association) is indexed, or has its render caches
# queued, this often.
FLUSH_EVERY = 50
# Rows per INSERT statement (17 parameters each: within SQLite's 999 as well).
INSERT_CHUNK = 50
# The unique UID column an index INSERT … ON CONFLICT skips on.
_UID_FIELD = {
    Instance: "sop_instance_uid",
    Series: "series_instance_uid",
    Study: "study_instance_uid",
}


class Outcome:
    ACCEPTED = "accepted"
    ALREADY_STORED = "already_stored"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass
class IngestResult:
    name: str
    status: str
    reason: str = ""
    code: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    instance_id: int | None = None
    patient_id: int | None = None
    # The matched child's row, so that the audit row needs no second look-up.
    patient: Patient | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "code": self.code,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


@dataclass
class Pending:
    """A stored file waiting for its INSERT; its result is completed then."""

    header: Header
    stored: storage.Stored
    patient: Patient | None
    result: IngestResult


@dataclass
class Sender:
    """Who is sending: the hospital, the person (none for C-STORE), the way in, and the child
    the upload is for (browser and photos) if chosen."""

    hospital: Hospital
    source: str
    user: User | None = None
    patient: Patient | None = None
    study_instance_uid: str = ""  # STOW-RS /studies/{study}: every instance must belong to it
    photo_of_film: bool = False
    # Per request / association: rows already looked up.
    mrn_cache: dict[str, Patient | None] = field(default_factory=dict)
    study_cache: dict[str, Study | None] = field(default_factory=dict)
    series_cache: dict[str, Series] = field(default_factory=dict)
    # Batches (STOW body, zip, upload request) index their instances in one INSERT at flush.
    defer_index: bool = False
    pending: list[Pending] = field(default_factory=list)
    # Indexed since the last flush: their series' render caches are queued at the next one.
    indexed: int = 0
    render_series: set[int] = field(default_factory=set)

    @property
    def backlog(self) -> int:
        """Instances stored since the last flush."""
        return len(self.pending) + self.indexed


@dataclass
class _Tally:
    """What one indexing transaction adds to the counts of the rows it touched."""

    series: Counter[int] = field(default_factory=Counter)
    studies: Counter[int] = field(default_factory=Counter)
    new_series: Counter[int] = field(default_factory=Counter)
    new_studies: set[int] = field(default_factory=set)


def ingest_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMAGING_MAX_FILE_BYTES,
        max_pixel_bytes=settings.IMAGING_MAX_PIXEL_BYTES,
        max_zip_members=settings.IMAGING_MAX_ZIP_MEMBERS,
        max_zip_bytes=settings.IMAGING_MAX_ZIP_BYTES,
        max_sequence_depth=settings.IMAGING_MAX_SEQUENCE_DEPTH,
        parse_seconds=settings.IMAGING_PARSE_SECONDS,
        max_header_bytes=settings.IMAGING_MAX_HEADER_BYTES,
    )


def instance_ingest(
    *, fp: IO[bytes], name: str, size: int, sender: Sender, flush: bool = True
) -> IngestResult:
    """Ingest one PS3.10 file: validate, parse the header, dedupe, store, index.

    Never raises for bad input: the result says accepted / already stored / conflict /
    rejected with a reason. The instance row is committed (with the series and study counts)
    before this returns, unless the sender batches (`defer_index`: one INSERT per STOW body or
    upload request at flush, which then completes the results). The render-cache task is
    queued by `ingest_flush`, called here unless `flush=False` (a batch; the caller flushes).
    """
    result = _ingest_one(fp=fp, name=name, size=size, sender=sender)
    if flush:
        ingest_flush(sender=sender)
    return result


def _ingest_one(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> IngestResult:
    try:
        header = ingest.parse_header(fp, size=size, limits=ingest_limits())
        patient = _match_patient(header, sender)
    except IngestError as exc:
        return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)
    # Store first, then INSERT … ON CONFLICT DO NOTHING on the unique SOP Instance UID: no
    # look-up for a new instance; a duplicate costs a write and a delete instead.
    stored = storage.store_file(fp, add_preamble=not header.has_preamble)
    item = Pending(header, stored, patient, _accepted(name, header, patient))
    if sender.defer_index:
        sender.pending.append(item)
    else:
        _index([item], sender)
    return item.result


def _accepted(name: str, header: Header, patient: Patient | None) -> IngestResult:
    return IngestResult(
        name=name,
        status=Outcome.ACCEPTED,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        patient_id=patient.pk if patient else None,
        patient=patient,
    )


def _match_patient(header: Header, sender: Sender) -> Patient | None:
    """The chosen child, else the child whose MRN at the sending hospital is the PatientID."""
    if sender.study_instance_uid and header.study_instance_uid != sender.study_instance_uid:
        raise IngestError(
            "wrong_study", _("The instance belongs to another study than the one in the URL.")
        )
    want_mrn = bool(header.patient_id) and header.patient_id not in sender.mrn_cache
    want_study = header.study_instance_uid not in sender.study_cache
    if want_mrn or want_study:
        _look_up(header, sender, mrn=want_mrn, study=want_study)
    by_mrn = sender.mrn_cache[header.patient_id] if header.patient_id else None
    study = sender.study_cache[header.study_instance_uid]
    if study is not None and not _may_extend(study, sender):
        raise IngestError("other_hospital", _("This study belongs to another hospital's records."))
    if sender.patient is not None:
        if by_mrn is not None and by_mrn.pk != sender.patient.pk:
            raise IngestError(
                "other_child",
                _("The file's patient ID is the record number of another child."),
            )
        if study is not None and study.patient_id not in (None, sender.patient.pk):
            raise IngestError("other_child", _("This study is already filed under another child."))
        return sender.patient
    if study is not None and study.patient_id is not None:
        return study.patient
    return by_mrn


def _look_up(header: Header, sender: Sender, *, mrn: bool, study: bool) -> None:
    """In one query, cached for the request: the child whose MRN at the sending hospital is
    the file's PatientID, and the study with its child and, when the series is already begun
    (the usual case for a sender going on with a study), the series."""
    lookup = _lookup_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            lookup.sql,
            [
                sender.hospital.pk,
                header.patient_id if mrn else None,
                header.study_instance_uid if study else None,
                header.series_instance_uid,
            ],
        )
        values = cursor.fetchone()
    by_mrn, study_row, study_patient, series = lookup.build(values)
    if mrn:
        sender.mrn_cache[header.patient_id] = by_mrn
    if study:
        if study_row is not None:
            study_row.patient = study_patient
        sender.study_cache[header.study_instance_uid] = study_row
        if series is not None:
            series.study = study_row
            sender.series_cache[header.series_instance_uid] = series


@dataclass(frozen=True)
class _RawRows:
    """Model instances read by hand-written SQL, built as the ORM builds them (its converters,
    `from_db`): the ORM's query compiler costs more CPU than the query on this hot path."""

    sql: str
    parts: tuple[tuple[Any, list[Any], list[tuple[int, list[Any], Any]]], ...]

    def build(self, values: tuple) -> list[Any]:
        rows: list[Any] = []
        at = 0
        for model, names, converters in self.parts:
            chunk = list(values[at : at + len(names)])
            at += len(names)
            if chunk[0] is None:  # the primary key: no row
                rows.append(None)
                continue
            for index, funcs, column in converters:
                for func in funcs:
                    chunk[index] = func(chunk[index], column, connection)
            rows.append(model.from_db(connection.alias, names, chunk))
        return rows


def _raw_rows(sql: str, *tables: tuple[Any, str]) -> _RawRows:
    parts = []
    for model, alias in tables:
        fields = [model._meta.pk] + [f for f in model._meta.concrete_fields if not f.primary_key]
        converters = []
        for index, f in enumerate(fields):
            column = f.get_col(alias)
            funcs = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if funcs:
                converters.append((index, funcs, column))
        parts.append((model, [f.attname for f in fields], converters))
    columns = ", ".join(
        f"{alias}.{connection.ops.quote_name(f.column)}"
        for model, alias in tables
        for f in [model._meta.pk] + [f for f in model._meta.concrete_fields if not f.primary_key]
    )
    return _RawRows(sql.replace("{columns}", columns), tuple(parts))


@functools.cache
def _lookup_query(vendor: str) -> _RawRows:
    q = connection.ops.quote_name
    t = {m: q(m._meta.db_table) for m in (PatientIdentifier, Patient, Study, Series)}
    # Table and column names come from the models' metadata; every value is a parameter. At
    # most one row: (hospital, mrn), study_instance_uid and series_instance_uid are unique.
    sql = (
        "SELECT {columns} FROM (SELECT 1 AS one) AS one "  # noqa: S608
        f"LEFT JOIN {t[PatientIdentifier]} pi ON pi.hospital_id = %s AND pi.mrn = %s "
        f"LEFT JOIN {t[Patient]} pm ON pm.id = pi.patient_id "
        f"LEFT JOIN {t[Study]} st ON st.study_instance_uid = %s "
        f"LEFT JOIN {t[Patient]} ps ON ps.id = st.patient_id "
        f"LEFT JOIN {t[Series]} se ON se.series_instance_uid = %s AND se.study_id = st.id"
    )
    return _raw_rows(sql, (Patient, "pm"), (Study, "st"), (Patient, "ps"), (Series, "se"))


def _may_extend(study: Study, sender: Sender) -> bool:
    """Only the hospital that sent a study, or someone who may see it, adds to it."""
    if study.hospital_id == sender.hospital.pk:
        return True
    if sender.user is None:
        return False
    from viewer.selectors import studies_visible_to

    return studies_visible_to(sender.user).filter(pk=study.pk).exists()


def _duplicate(
    stored: storage.Stored, *, name: str, header: Header, existing: Instance, sender: Sender
) -> IngestResult:
    base: dict[str, Any] = {
        "name": name,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "study_instance_uid": header.study_instance_uid,
        "instance_id": existing.pk,
    }
    if stored.sha256 == existing.sha256:
        storage.delete_stored(stored.key)
        return IngestResult(status=Outcome.ALREADY_STORED, **base)
    _keep_conflict(stored, header=header, existing=existing, sender=sender)
    return IngestResult(
        status=Outcome.CONFLICT,
        code="conflict",
        reason=str(
            _("Different content was already stored under this SOP Instance UID; kept aside.")
        ),
        **base,
    )


def _keep_conflict(
    stored: storage.Stored, *, header: Header, existing: Instance, sender: Sender
) -> None:
    """The new bytes stay where they were written, indexed as a conflict (once per content)."""
    try:
        with transaction.atomic():
            IngestConflict.objects.create(
                sop_instance_uid=header.sop_instance_uid,
                study_instance_uid=header.study_instance_uid,
                existing=existing,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=stored.key,
                source=sender.source,
                uploaded_by=sender.user,
                sending_hospital=sender.hospital,
            )
    except IntegrityError:
        storage.delete_stored(stored.key)


def ingest_flush(*, sender: Sender) -> None:
    """Index a batch's pending instances, then queue the render caches of the series that
    gained instances since the last flush, on commit. Joins the caller's transaction if
    there is one (the views write the request's audit row in the same commit)."""
    if sender.pending:
        pending, sender.pending = sender.pending, []
        _index(pending, sender)
    sender.indexed = 0
    if sender.render_series:
        series_ids = set(sender.render_series)
        sender.render_series.clear()
        # Robust: a broker outage must not fail an upload that is committed (the viewer
        # renders on demand what has no cache).
        transaction.on_commit(lambda: render_caches_queue(series_ids=series_ids), robust=True)


def ingest_finish(
    *, sender: Sender, request: Any, results: list[IngestResult], patient: Patient | None
) -> None:
    """The end of an upload request or a STOW body: its last batch is indexed and its audit
    row written in one commit."""
    with transaction.atomic():
        ingest_flush(sender=sender)
        record_upload_audit(request=request, results=results, patient=patient)


def _index(items: list[Pending], sender: Sender) -> None:
    """Index stored files in one transaction: one INSERT for the new instances, the counts
    of their series and studies raised by what was inserted (nothing is recounted, so the
    cost does not grow with the study), and every other item settled as a duplicate."""
    tally = _Tally()
    try:
        with transaction.atomic(savepoint=False):
            fresh: dict[str, tuple[Pending, Instance]] = {}
            for item in items:
                uid = item.header.sop_instance_uid
                if uid not in fresh:
                    fresh[uid] = (item, _new_instance(item, sender, tally))
            inserted = _insert_new([row for _item, row in fresh.values()])
            rows: dict[str, Instance] = {}
            for uid, (item, row) in fresh.items():
                if uid in inserted:
                    row.pk, row._state.adding = inserted[uid], False
                    item.result.instance_id = row.pk
                    tally.series[row.series_id] += 1
                    tally.studies[row.series.study_id] += 1
                    rows[uid] = row
            _count(tally, photo=sender.photo_of_film)
            new_series = {row.series_id for row in rows.values()}
            _settle([item for item in items if item.result.instance_id is None], rows, sender)
    except Exception:
        # Rows created in the rolled-back transaction must not be reused from the caches.
        sender.study_cache.clear()
        sender.series_cache.clear()
        raise
    sender.indexed += len(items)
    sender.render_series |= new_series


def _new_instance(item: Pending, sender: Sender, tally: _Tally) -> Instance:
    study = _study_for(item.header, patient=item.patient, sender=sender, tally=tally)
    series = _series_for(item.header, study=study, sender=sender, tally=tally)
    return Instance(**_instance_fields(item.header, item.stored, series, sender))


def _insert_new(rows: list[Instance]) -> dict[str, int]:
    """The ids of the instances inserted, by UID. A UID already indexed (committed, or by a
    concurrent sender, whose commit PostgreSQL waits for) is skipped, not an error. Sorted by
    UID so that two senders of the same instances wait for each other instead of
    deadlocking."""
    rows = sorted(rows, key=lambda row: row.sop_instance_uid)
    ids: dict[str, int] = {}
    for at in range(0, len(rows), INSERT_CHUNK):
        ids.update(_insert_ignoring_conflicts(Instance, rows[at : at + INSERT_CHUNK]))
    return ids


def _insert_ignoring_conflicts(model: Any, rows: list[Any]) -> dict[str, int]:
    """INSERT … ON CONFLICT (the model's unique UID) DO NOTHING RETURNING, in one statement
    (PostgreSQL and SQLite): the ids of the rows inserted, by UID."""
    meta = model._meta
    unique = meta.get_field(_UID_FIELD[model]).column
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [
        f.get_db_prep_save(f.pre_save(row, add=True), connection) for row in rows for f in fields
    ]
    with connection.cursor() as cursor:
        # Identifiers come from the model's own metadata; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
            f"VALUES {', '.join([placeholders] * len(rows))} "
            f"ON CONFLICT ({quote(unique)}) DO NOTHING "
            f"RETURNING {quote(meta.pk.column)}, {quote(unique)}",
            params,
        )
        return {uid: pk for pk, uid in cursor.fetchall()}


def _settle(items: list[Pending], rows: dict[str, Instance], sender: Sender) -> None:
    """Items whose UID was indexed already (before, concurrently, or earlier in this batch):
    identical bytes are "already stored", different bytes a conflict kept aside."""
    missing = {item.header.sop_instance_uid for item in items} - rows.keys()
    if missing:
        rows.update(
            (row.sop_instance_uid, row)
            for row in Instance.objects.filter(sop_instance_uid__in=missing)
        )
    for item in items:
        header, result = item.header, item.result
        row = rows[header.sop_instance_uid]
        verdict = _duplicate(
            item.stored, name=result.name, header=header, existing=row, sender=sender
        )
        result.status, result.code, result.reason = verdict.status, verdict.code, verdict.reason
        result.instance_id, result.series_instance_uid = row.pk, ""


def _count(tally: _Tally, *, photo: bool) -> None:
    """Raise the counts by what this transaction inserted; the row locks taken here make
    concurrent senders of the same study add up, in primary-key order (no deadlock)."""
    if connection.vendor == "postgresql" and tally.series:
        _count_in_one_statement(tally, photo=photo)
    else:
        for pk in sorted(tally.series):
            Series.objects.filter(pk=pk).update(
                number_of_instances=F("number_of_instances") + tally.series[pk]
            )
        for pk in sorted(tally.studies.keys() | tally.new_series.keys()):
            updates: dict[str, Any] = {}
            if tally.studies[pk]:
                updates["number_of_instances"] = F("number_of_instances") + tally.studies[pk]
                if photo:
                    updates["has_photo_of_film"] = True
            if tally.new_series[pk]:
                updates["number_of_series"] = F("number_of_series") + tally.new_series[pk]
            Study.objects.filter(pk=pk).update(**updates)
    # A study created with its one series has its modality already; others are relisted.
    if relist := {pk for pk, n in tally.new_series.items() if pk not in tally.new_studies or n > 1}:
        _relist_modalities(relist)


def _count_in_one_statement(tally: _Tally, *, photo: bool) -> None:
    """The same two updates as one PostgreSQL statement (a data-modifying WITH): one round
    trip per batch, which a C-STORE association pays for every instance."""
    quote = connection.ops.quote_name
    series_rows = sorted(tally.series.items())
    studies = sorted(tally.studies.keys() | tally.new_series.keys())
    study_rows = [(pk, tally.studies[pk], tally.new_series[pk]) for pk in studies]
    series_values = ", ".join(["(%s::bigint, %s::integer)"] * len(series_rows))
    study_values = ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * len(study_rows))
    # Identifiers come from the models' own metadata; every value is a parameter.
    sql = (
        f"WITH added AS (UPDATE {quote(Series._meta.db_table)} AS s "  # noqa: S608
        "SET number_of_instances = s.number_of_instances + v.n "
        f"FROM (VALUES {series_values}) AS v(id, n) WHERE s.id = v.id) "
        f"UPDATE {quote(Study._meta.db_table)} AS t "
        "SET number_of_instances = t.number_of_instances + v.n, "
        "number_of_series = t.number_of_series + v.k, "
        "has_photo_of_film = t.has_photo_of_film OR (%s AND v.n > 0) "
        f"FROM (VALUES {study_values}) AS v(id, n, k) WHERE t.id = v.id"
    )
    params = [x for row in series_rows for x in row] + [photo]
    params += [x for row in study_rows for x in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _series_for(header: Header, *, study: Study, sender: Sender, tally: _Tally) -> Series:
    series = sender.series_cache.get(header.series_instance_uid)
    if series is None:
        defaults = {
            "study": study,
            "modality": header.modality,
            "body_part": header.body_part,
            "description": header.series_description,
            "series_number": header.series_number,
            "frame_of_reference_uid": header.frame_of_reference_uid,
        }
        lookup = {"series_instance_uid": header.series_instance_uid}
        if study.pk in tally.new_studies:  # a study created just now has no series yet
            series, created = _create_or_get(Series, lookup, defaults)
        else:
            series, created = Series.objects.get_or_create(**lookup, defaults=defaults)
        sender.series_cache[header.series_instance_uid] = series
        if created:
            tally.new_series[study.pk] += 1
    return series


def _create_or_get(model: Any, lookup: dict, defaults: dict) -> tuple[Any, bool]:
    """get_or_create for a study or series that is known to be missing: one INSERT … ON
    CONFLICT DO NOTHING (no savepoint around it), the SELECT only if a concurrent sender
    created it meanwhile."""
    row = model(**lookup, **defaults)
    inserted = _insert_ignoring_conflicts(model, [row])
    if not inserted:
        return model.objects.get(**lookup), False
    row.pk = next(iter(inserted.values()))
    row._state.adding, row._state.db = False, connection.alias
    return row, True


def _instance_fields(
    header: Header, stored: storage.Stored, series: Series, sender: Sender
) -> dict[str, Any]:
    return {
        "series": series,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "instance_number": header.instance_number,
        "transfer_syntax_uid": header.transfer_syntax_uid,
        "rows": header.rows,
        "columns": header.columns,
        "number_of_frames": header.number_of_frames,
        "pixel_spacing": header.pixel_spacing,
        "size": stored.size,
        "sha256": stored.sha256,
        "storage_key": stored.key,
        "source": sender.source,
        "is_photo_of_film": sender.photo_of_film,
        "uploaded_by": sender.user,
        "sending_hospital": sender.hospital,
    }


def _study_for(header: Header, *, patient: Patient | None, sender: Sender, tally: _Tally) -> Study:
    uid = header.study_instance_uid
    study = sender.study_cache.get(uid)
    if study is None:
        lookup = {"study_instance_uid": uid}
        defaults = _study_fields(header, patient=patient, hospital=sender.hospital)
        if uid in sender.study_cache:  # looked up in this request, and missing
            study, created = _create_or_get(Study, lookup, defaults)
        else:
            study, created = Study.objects.get_or_create(**lookup, defaults=defaults)
        sender.study_cache[uid] = study
        if created:
            tally.new_studies.add(study.pk)
    if study.patient_id is None and patient is not None:
        Study.objects.filter(pk=study.pk, patient=None).update(patient=patient)
        study.patient = patient
    return study


def _study_fields(header: Header, *, patient: Patient | None, hospital: Hospital) -> dict:
    return {
        "patient": patient,
        "hospital": hospital,
        "patient_id_in_file": header.patient_id,
        "patient_name_in_file": header.patient_name,
        "study_date": header.study_date,
        "study_time": header.study_time,
        "description": header.study_description,
        "accession_number": header.accession_number,
        "institution_name": header.institution_name,
        "modalities": header.modality[:100],
    }


def _relist_modalities(study_ids: set[int]) -> None:
    found: dict[int, list[str]] = {pk: [] for pk in study_ids}
    for study_id, modality in (
        Series.objects.filter(study_id__in=study_ids)
        .order_by("id")
        .values_list("study_id", "modality")
    ):
        if modality and modality not in found[study_id]:
            found[study_id].append(modality)
    for study_id, names in found.items():
        Study.objects.filter(pk=study_id).update(modalities="\\".join(names)[:100])


# --- files and zips from the browser ------------------------------------------------


def upload_ingest(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> list[IngestResult]:
    """One uploaded file: a DICOM file, or a zip whose members are each ingested.
    The caller calls `ingest_finish` after the last file of the request."""
    fp.seek(0)
    head = fp.read(4)
    fp.seek(0)
    if ingest.looks_like_zip(head) or name.lower().endswith(".zip"):
        return zip_ingest(fp=fp, name=name, sender=sender)
    return [instance_ingest(fp=fp, name=name, size=size, sender=sender, flush=False)]


def zip_ingest(*, fp: IO[bytes], name: str, sender: Sender) -> list[IngestResult]:
    limits = ingest_limits()
    try:
        archive = zipfile.ZipFile(fp)
        members = ingest.zip_members(archive, limits=limits)
    except IngestError as exc:
        return [_rejected(name, exc)]
    except Exception:  # zipfile raises many types on a damaged directory; all mean this
        return [rejected(name, "bad_zip", _("The zip file is damaged."))]
    results = []
    with archive:
        for member in members:
            label = f"{name}/{member.name}"
            if member.error is not None:
                results.append(_rejected(label, member.error))
                continue
            results.append(_zip_member_ingest(archive, member, label=label, sender=sender))
            if sender.backlog >= FLUSH_EVERY:
                ingest_flush(sender=sender)
    return results


def _zip_member_ingest(
    archive: zipfile.ZipFile, member: ingest.ZipMember, *, label: str, sender: Sender
) -> IngestResult:
    with tempfile.TemporaryFile() as spool:
        try:
            for block in ingest.iter_member_chunks(archive, member):
                spool.write(block)
        except IngestError as exc:
            return _rejected(label, exc)
        except Exception:  # a damaged member: zlib.error, BadZipFile (CRC), EOFError, …
            return _rejected(label, IngestError("bad_zip", _("The zip member is damaged.")))
        size = spool.tell()
        return instance_ingest(fp=spool, name=label, size=size, sender=sender, flush=False)


def _rejected(name: str, exc: IngestError) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)


def rejected(name: str, code: str, reason: Any) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(reason), code=code)


def record_upload_audit(
    *, request: Any, results: Iterable[IngestResult], patient: Patient | None
) -> None:
    """One audit row per child the upload filed images under (one without a child for
    rejected or unmatched files): what was accepted, out of how many."""
    by_child: dict[int | None, list[IngestResult]] = {}
    children: dict[int, Patient] = {patient.pk: patient} if patient is not None else {}
    for result in results:
        key = patient.pk if patient is not None else result.patient_id
        by_child.setdefault(key, []).append(result)
        if key is not None and result.patient is not None:
            children.setdefault(key, result.patient)
    if unknown := [key for key in by_child if key is not None and key not in children]:
        children.update((p.pk, p) for p in Patient.objects.filter(pk__in=unknown))
    for key, group in by_child.items():
        accepted = sum(r.status == Outcome.ACCEPTED for r in group)
        studies = sorted({r.study_instance_uid for r in group if r.study_instance_uid})
        audit_record(
            request=request,
            action=Action.CREATE,
            object_type="dicom_upload",
            object_id=",".join(studies)[:128],
            patient=children.get(key) if key else None,
            reason=f"accepted={accepted} total={len(group)}",
        )


# --- unmatched queue ------------------------------------------------------------------


@transaction.atomic
def study_assign_patient(*, study: Study, patient: Patient, user: User) -> Study:
    """File an unmatched study under a child. Only a study still unmatched moves."""
    updated = Study.objects.filter(pk=study.pk, patient=None).update(patient=patient)
    if not updated:
        raise IngestError("already_assigned", _("This study was already filed under a child."))
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=study,
        patient=patient,
        reason="assigned unmatched study",
    )
    study.refresh_from_db()
    return study


# --- ingest conflicts: review and resolution -------------------------------------------


def _conflict_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason: it is recorded with the decision."))
    return reason[:500]


def _open_conflict_locked(conflict: IngestConflict) -> IngestConflict:
    row = IngestConflict.objects.select_for_update().get(pk=conflict.pk)
    if row.resolution:
        raise IngestError("already_resolved", _("Somebody already resolved this conflict."))
    return row


@transaction.atomic
def conflict_keep_stored(*, conflict: IngestConflict, user: User, reason: str) -> IngestConflict:
    """Keep the stored version: the new bytes are deleted (after commit), the row stays as
    the record of what arrived and who decided."""
    reason = _conflict_reason(reason)
    row = _open_conflict_locked(conflict)
    key = row.storage_key
    row.resolution = IngestConflict.Resolution.KEPT_STORED
    row.resolved_by, row.resolved_at, row.resolution_reason = user, now(), reason
    row.storage_key = None
    row.save(
        update_fields=[
            "resolution",
            "resolved_by",
            "resolved_at",
            "resolution_reason",
            "storage_key",
        ]
    )
    study = row.existing.series.study
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=row,
        patient=study.patient,
        reason=f"conflict: kept stored version, discarded new one: {reason}"[:300],
    )
    if key:
        transaction.on_commit(lambda: storage.delete_stored(key))
    return row


def may_replace(conflict: IngestConflict, user: User) -> bool:
    """Only the hospital that owns the study (or the alliance admin) replaces its images."""
    if user.role == Role.ADMIN:
        return True
    return (
        user.role == Role.REFERRING_DOCTOR
        and user.hospital_id is not None
        and conflict.existing.series.study.hospital_id == user.hospital_id
    )


@transaction.atomic
def conflict_replace(*, conflict: IngestConflict, user: User, reason: str) -> IngestConflict:
    """Serve the new version from now on. Nothing is lost: the instance takes the new key,
    size and hash, this row takes the superseded ones (still downloadable from the review
    page), and the audit trail names who replaced it and why.

    Refused when the new version names another study or series (that is a different
    mistake: discard it and send the file with correct UIDs)."""
    reason = _conflict_reason(reason)
    if not may_replace(conflict, user):
        raise PermissionDenied(_("Only the hospital that sent this study may replace its images."))
    row = _open_conflict_locked(conflict)
    instance = (
        Instance.objects.select_for_update().select_related("series__study").get(pk=row.existing_id)
    )
    # An open conflict always holds its bytes: storage_key is empty only once resolved.
    with storage.open_stored(row.storage_key) as fp:  # type: ignore[arg-type]
        header = ingest.parse_header(fp, size=row.size, limits=ingest_limits())
    series = instance.series
    if (header.study_instance_uid, header.series_instance_uid) != (
        series.study.study_instance_uid,
        series.series_instance_uid,
    ):
        raise IngestError(
            "other_series",
            _(
                "The new version names another study or series than the stored one; "
                "it cannot replace it."
            ),
        )
    old = (instance.storage_key, instance.size, instance.sha256)
    Instance.objects.filter(pk=instance.pk).update(
        storage_key=row.storage_key,
        size=row.size,
        sha256=row.sha256,
        sop_class_uid=header.sop_class_uid,
        instance_number=header.instance_number,
        transfer_syntax_uid=header.transfer_syntax_uid,
        rows=header.rows,
        columns=header.columns,
        number_of_frames=header.number_of_frames,
        pixel_spacing=header.pixel_spacing,
    )
    row.storage_key, row.size, row.sha256 = old
    row.resolution = IngestConflict.Resolution.REPLACED
    row.resolved_by, row.resolved_at, row.resolution_reason = user, now(), reason
    row.save()
    # What the viewer read from the old header is stale; the render cache is keyed by hash.
    RenderInfo.objects.filter(instance_id=instance.pk).delete()
    from viewer.rendering import cache as render_cache

    stale_sha = old[2]
    transaction.on_commit(lambda: render_cache.drop(instance.pk, stale_sha), robust=True)
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=instance,
        patient=series.study.patient,
        reason=f"conflict {row.pk}: replaced stored version (kept as superseded): {reason}"[:300],
    )
    transaction.on_commit(lambda: instance_render_caches_queue(instance_ids=[instance.pk]))
    return row


SOURCE_LABELS = dict(Source.choices)

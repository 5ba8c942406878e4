"""Backups that restore: a populated instance backed up, restored into a fresh PostgreSQL
database and fresh storage, and found again (every table row, study, report PDF, audit row);
the refusals (a target with data, damaged backups); and the SQLite one-machine round trip."""

import hashlib
import io
import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import translation
from pydicom.data import get_testdata_file
from pypdf import PdfReader

from consult.consultations.report_pdf import report_pdf
from consult.consultations.reports import report_save, report_sign
from consult.consultations.services import attachment_add
from consult.models import Report
from core import backup
from core.audit import SYSTEM, audit_record
from core.models import AuditEvent
from tests.factories import PASSWORD
from tests.processes import ROOT, VENV_BIN, subprocess_env
from viewer import storage
from viewer.ingest.services import Outcome, Sender, instance_ingest
from viewer.models import IngestConflict, Instance, Source
from viewer.rendering import cache as render_cache

DICOM_SAMPLES = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_jpeg_dcmtk.dcm")


def ingest(data: bytes, sender: Sender, name: str = "IM0001"):
    return instance_ingest(fp=io.BytesIO(data), name=name, size=len(data), sender=sender)


@pytest.fixture
def populated(in_review, media_root):
    """An instance in use: studies ingested from real DICOM files (one with a conflicting
    second version), a consultation with an attachment and a signed report, audit rows, and
    an unreferenced file in storage that a backup must leave out."""
    doctor, child = in_review.requested_by, in_review.patient
    sender = Sender(hospital=doctor.hospital, source=Source.WEB, user=doctor, patient=child)
    for name in DICOM_SAMPLES:
        with open(get_testdata_file(name), "rb") as fp:
            assert ingest(fp.read(), sender, name).status == Outcome.ACCEPTED
    with open(get_testdata_file("CT_small.dcm"), "rb") as fp:
        changed = bytearray(fp.read())
    changed[-1] ^= 0xFF  # same SOP Instance UID, other pixels: kept aside as a conflict
    assert ingest(bytes(changed), sender, "again").status == Outcome.CONFLICT
    attachment_add(
        consultation=in_review,
        actor=doctor,
        upload=SimpleUploadedFile("referral-letter.pdf", b"%PDF-1.4 letter", "application/pdf"),
    )
    specialist = in_review.assigned_to
    report_save(
        context=SYSTEM,
        consultation=in_review,
        actor=specialist,
        edit_version=0,
        template="gi",
        data={"intussusception": "yes", "location": "回结肠型", "length_cm": "4.5"},
        findings="右中腹见“同心圆”征。",
        impression="回结肠型肠套叠。",
        recommendation="建议转诊。",
        transfer_recommended=False,
        transfer_urgency="",
    )
    report_sign(context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD)
    for reason in ("consultation", "break-glass: 急诊", "report pdf"):
        audit_record(action=AuditEvent.Action.VIEW, user=specialist, obj=child, reason=reason)
    render_cache.build_for_instances(list(Instance.objects.values_list("pk", flat=True)[:1]))
    orphan = storage.store_file(io.BytesIO(b"\0" * 128 + b"DICM not referenced")).key
    return {"consultation": in_review, "orphan": orphan}


@pytest.fixture
def restore_database():
    """A fresh PostgreSQL database next to the test database (CI's `test_pedslink` gives
    `pedslink_restore`), dropped afterwards."""
    settings_dict = connection.settings_dict
    name = settings_dict["NAME"].removeprefix("test_") + "_restore"
    admin = {**settings_dict, "NAME": "postgres"}

    def run(sql: str) -> None:
        with backup._pg_connect(admin) as conn:
            conn.autocommit = True
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    yield {**settings_dict, "NAME": name}
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(settings_dict) -> str:
    d = settings_dict
    password = f":{d['PASSWORD']}" if d["PASSWORD"] else ""
    host = d["HOST"] or "127.0.0.1"
    return f"postgres://{d['USER']}{password}@{host}:{d['PORT'] or 5432}/{d['NAME']}"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def last_json(stdout: str):
    """The JSON line a `manage.py shell -c` script printed last (the shell prints its own)."""
    return json.loads(stdout.strip().splitlines()[-1])


def make_backup(tmp_path: Path, *args: str) -> Path:
    out = io.StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), *args, stdout=out)
    (folder,) = (tmp_path / "backups").glob("pedslink-*")
    assert "Backup complete" in out.getvalue()
    return folder


def all_rows(settings_dict, tables) -> dict:
    with backup._pg_connect(settings_dict) as conn:
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}  # noqa: S608


# What the restored instance shows, computed by PedsLink itself pointed at the restored
# database and storage (a subprocess: Django's connection is the test database's here).
FOUND_AGAIN = """
import hashlib, io, json, pydicom
from django.core.files.storage import default_storage
from django.utils import translation
from pypdf import PdfReader
from consult.models import Attachment, Report
from consult.consultations.report_pdf import report_pdf
from viewer.models import IngestConflict, Instance

def sha(key):
    with default_storage.open(key, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()

def uid(key):
    with default_storage.open(key, "rb") as fh:
        return str(pydicom.dcmread(fh).SOPInstanceUID)

def pdf_text(report):
    with translation.override("zh-hans"):
        data = report_pdf(report)
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)

print(json.dumps({
    "instances": {i.sop_instance_uid: [sha(i.storage_key), i.sha256, uid(i.storage_key)]
                  for i in Instance.objects.all()},
    "conflicts": [sha(c.storage_key) for c in IngestConflict.objects.all()],
    "attachments": [sha(a.file.name) for a in Attachment.objects.all()],
    "reports": {r.pk: pdf_text(r) for r in Report.objects.filter(status="signed")},
}))
"""


def pdf_text(report: Report) -> str:
    with translation.override("zh-hans"):
        data = report_pdf(report)
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def sha(key: str) -> str:
    with default_storage.open(key, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_fresh_database_and_storage_with_everything_found_again(
    populated, restore_database, tmp_path
):
    folder = make_backup(tmp_path, "--with-render-cache")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"]["engine"] == "postgresql"
    assert manifest["counts"]["consult_auditevent"] == AuditEvent.objects.count() >= 3
    assert "0002_audit_append_only_trigger" in manifest["migrations"]["consult"]
    backed_up = {e["path"] for e in manifest["files"]}
    assert f"files/{populated['orphan']}" not in backed_up
    assert any(p.startswith("files/render-cache/") for p in backed_up)
    # Stored after the backup: not in it, and no harm done.
    storage.store_file(io.BytesIO(b"\0" * 128 + b"DICM later"))

    restored_media = tmp_path / "restored-media"
    done = manage(
        "restore",
        str(folder),
        DATABASE_URL=database_url(restore_database),
        MEDIA_ROOT=str(restored_media),
    )
    assert done.returncode == 0, done.stderr
    assert "Restored the backup" in done.stdout

    restored_files = {
        "files/" + p.relative_to(restored_media).as_posix()
        for p in restored_media.rglob("*")
        if p.is_file()
    }
    assert restored_files == backed_up - {"database.dump"}
    tables = sorted(manifest["counts"])
    assert all_rows(restore_database, tables) == all_rows(connection.settings_dict, tables)
    found = manage(
        "shell",
        "-c",
        FOUND_AGAIN,
        DATABASE_URL=database_url(restore_database),
        MEDIA_ROOT=str(restored_media),
    )
    assert found.returncode == 0, found.stderr
    found = last_json(found.stdout)
    assert found["instances"] == {
        i.sop_instance_uid: [i.sha256, i.sha256, i.sop_instance_uid] for i in Instance.objects.all()
    }
    assert len(found["instances"]) == len(DICOM_SAMPLES)
    assert found["conflicts"] == [sha(c.storage_key) for c in IngestConflict.objects.all()]
    assert found["attachments"] == [
        sha(a.file.name) for a in populated["consultation"].attachments.all()
    ]
    signed = Report.objects.filter(status=Report.Status.SIGNED)
    assert found["reports"] == {str(r.pk): pdf_text(r) for r in signed} and signed.exists()
    assert "回结肠型肠套叠" in next(iter(found["reports"].values()))
    # The audit trail is still append-only in the restored database.
    with (
        backup._pg_connect(restore_database) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute("UPDATE consult_auditevent SET reason = 'rewritten'")


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_holds_data(populated, tmp_path, settings):
    folder = make_backup(tmp_path)
    audit_rows = AuditEvent.objects.count()
    settings.MEDIA_ROOT = str(tmp_path / "empty-media")
    with pytest.raises(CommandError, match="already holds PedsLink data"):
        call_command("restore", str(folder), stdout=io.StringIO())
    assert AuditEvent.objects.count() == audit_rows


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_storage_that_holds_files(populated, restore_database, tmp_path):
    folder = make_backup(tmp_path)
    used = tmp_path / "used-media"
    (used / "dicom").mkdir(parents=True)
    (used / "dicom" / "someone-else.dcm").write_bytes(b"keep me")
    done = manage(
        "restore", str(folder), DATABASE_URL=database_url(restore_database), MEDIA_ROOT=str(used)
    )
    assert done.returncode != 0
    assert "storage is not empty" in done.stderr
    assert (used / "dicom" / "someone-else.dcm").read_bytes() == b"keep me"
    with backup._pg_connect(restore_database) as conn:
        assert conn.execute("SELECT to_regclass('consult_user')").fetchone() == (None,)


@pytest.mark.django_db(transaction=True)
def test_verify_finds_a_damaged_file_and_restore_refuses_it(populated, tmp_path, settings):
    folder = make_backup(tmp_path)
    out = io.StringIO()
    call_command("backup", "--verify", str(folder), stdout=out)
    assert "is intact" in out.getvalue()

    key = Instance.objects.first().storage_key
    damaged = folder / "files" / key
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped
    damaged.write_bytes(bytes(data))
    with pytest.raises(CommandError, match=f"checksum mismatch: files/{key}"):
        call_command("backup", "--verify", str(folder), stdout=io.StringIO())

    settings.MEDIA_ROOT = str(tmp_path / "empty-media")
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("restore", str(folder), stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_verify_finds_a_missing_file_and_a_tampered_path(populated, tmp_path):
    folder = make_backup(tmp_path)
    key = IngestConflict.objects.get().storage_key
    (folder / "files" / key).unlink()
    with pytest.raises(CommandError, match=f"missing: files/{key}"):
        call_command("backup", "--verify", str(folder), stdout=io.StringIO())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].append({"path": "files/../../etc/cron.d/x", "size": 1, "sha256": "0"})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="unsafe file name"):
        call_command("backup", "--verify", str(folder), stdout=io.StringIO())


def test_keep_deletes_only_the_oldest_complete_backups(tmp_path):
    for stamp in ("20260101-010000", "20260102-010000", "20260103-010000"):
        (tmp_path / f"pedslink-{stamp}").mkdir()
        (tmp_path / f"pedslink-{stamp}" / "manifest.json").write_text("{}")
    (tmp_path / ".pedslink-20260104-010000.partial").mkdir()
    (tmp_path / "notes").mkdir()
    deleted = backup.backups_prune(keep=2, root=tmp_path)
    assert [p.name for p in deleted] == ["pedslink-20260101-010000"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".pedslink-20260104-010000.partial",
        "notes",
        "pedslink-20260102-010000",
        "pedslink-20260103-010000",
    ]


def test_the_render_cache_prefix_is_the_viewers():
    assert backup.RENDER_CACHE_PREFIX == render_cache.PREFIX


SQLITE_POPULATE = """
import io
from django.core.management import call_command
from pydicom.data import get_testdata_file
from core.audit import audit_record
from core.models import AuditEvent
from tests.factories import HospitalFactory, PatientFactory, UserFactory
from viewer.models import Source
from viewer.ingest.services import Sender, instance_ingest

hospital = HospitalFactory(code="COUNTY")
doctor = UserFactory(username="county_doc", hospital=hospital)
child = PatientFactory(home_hospital=hospital)
data = open(get_testdata_file("CT_small.dcm"), "rb").read()
sender = Sender(hospital=hospital, source=Source.WEB, user=doctor, patient=child)
result = instance_ingest(fp=io.BytesIO(data), name="a", size=len(data), sender=sender)
assert result.status == "accepted"
audit_record(action=AuditEvent.Action.VIEW, user=doctor, obj=child, reason="sqlite trial")
call_command("backup", "--output", OUTPUT)
"""

SQLITE_CHECK = """
import hashlib, json
from django.core.files.storage import default_storage
from core.models import AuditEvent
from viewer.models import Instance

i = Instance.objects.get()
with default_storage.open(i.storage_key, "rb") as fh:
    ok = hashlib.sha256(fh.read()).hexdigest() == i.sha256
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
print(json.dumps({
    "file": ok,
    "audit": list(AuditEvent.objects.values_list("reason", flat=True)),
    "unapplied": len(executor.migration_plan(executor.loader.graph.leaf_nodes())),
}))
"""


def referrals_one_migration_back() -> str:
    """The referrals app's migration before its newest ('zero' if it has one)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    (leaf,) = [node for node in graph.leaf_nodes() if node[0] == "referrals"]
    parents = [p for p in graph.node_map[leaf].parents if p[0] == "referrals"]
    return parents[0][1] if parents else "zero"


def test_a_sqlite_trial_backs_up_and_restores_and_newer_code_migrates_it(tmp_path):
    """The one-machine default: SQLite's online backup copy, restored into a new file. The
    backup lacks the newest referrals migration (it was made by older code): restore
    applies it. The new machine was given another PATIENT_ID_HMAC_KEY: restore warns."""
    origin = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'trial.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "m"),
        "PATIENT_ID_HMAC_KEY": "the-trial-machine-key",
    }
    target = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "n"),
        "PATIENT_ID_HMAC_KEY": "another-key-by-mistake",
    }
    for args, env in (
        (["migrate", "-v", "0"], origin),
        (["migrate", "referrals", referrals_one_migration_back(), "-v", "0"], origin),
        (["shell", "-c", f"OUTPUT = {str(tmp_path / 'b')!r}\n" + SQLITE_POPULATE], origin),
    ):
        done = manage(*args, **env)
        assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "b").glob("pedslink-*")
    assert json.loads((folder / "manifest.json").read_text())["database"]["engine"] == "sqlite"
    done = manage("restore", str(folder), **target)
    assert done.returncode == 0, done.stderr
    assert "applying 1 migration(s)" in done.stdout
    assert "PATIENT_ID_HMAC_KEY differs" in done.stderr
    found = manage("shell", "-c", SQLITE_CHECK, **target)
    assert last_json(found.stdout) == {"file": True, "audit": ["sqlite trial"], "unapplied": 0}


@pytest.mark.django_db(transaction=True)
def test_a_study_stored_while_the_dump_runs_is_in_neither_the_dump_nor_the_files(
    populated, tmp_path, monkeypatch
):
    """The files to copy are listed in the dump's own snapshot: rows committed after it
    started, and their files, belong to the next backup (never a file without its row, or a
    row counted that the dump lacks)."""
    instances = Instance.objects.count()
    doctor, child = populated["consultation"].requested_by, populated["consultation"].patient
    sender = Sender(hospital=doctor.hospital, source=Source.WEB, user=doctor, patient=child)
    real_run = backup._pg_run

    def dump_then_ingest(*args, **kwargs):
        real_run(*args, **kwargs)
        with open(get_testdata_file("JPEG2000.dcm"), "rb") as fp:
            assert ingest(fp.read(), sender, "late").status == Outcome.ACCEPTED

    monkeypatch.setattr(backup, "_pg_run", dump_then_ingest)
    folder = make_backup(tmp_path)
    late = Instance.objects.get(sop_instance_uid__startswith="1.3.6.1.4.1.5962.1.1.8.")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["viewer_instance"] == instances == Instance.objects.count() - 1
    assert f"files/{late.storage_key}" not in {e["path"] for e in manifest["files"]}
    assert backup.backup_verify(folder)[1].problems == []


@pytest.mark.django_db(transaction=True)
def test_a_referenced_file_missing_from_storage_fails_the_backup_loudly(populated, tmp_path):
    key = IngestConflict.objects.get().storage_key
    default_storage.delete(key)
    with pytest.raises(CommandError, match=f"(?s)missing from storage.*{key}"):
        call_command("backup", "--output", str(tmp_path / "backups"), stdout=io.StringIO())
    (folder,) = (tmp_path / "backups").glob("pedslink-*")
    assert json.loads((folder / "manifest.json").read_text())["missing_files"] == [key]
    with pytest.raises(CommandError, match=f"was missing from storage when backed up: {key}"):
        call_command("backup", "--verify", str(folder), stdout=io.StringIO())

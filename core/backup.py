"""Backups that restore: one database snapshot, the stored files it references, a manifest.

A backup is a folder `pedslink-YYYYmmdd-HHMMSS/` (UTC) holding

- the database: `database.dump` (PostgreSQL, `pg_dump` custom format) or `database.sqlite3`
  (SQLite, copied with its online backup API);
- `files/<storage key>`: every stored file a row of that snapshot names (DICOM instances,
  conflicting versions, consultation attachments), copied through Django's storage API so
  local disk and S3-compatible storage work alike; the render caches only on request;
- `manifest.json`: when, which PedsLink, the database engine, the applied migrations, the row
  count of every table, and every file with its size and SHA-256.

Consistency: the database is one snapshot (pg_dump runs in a transaction whose snapshot is
exported and shared with the query that lists the referenced files; SQLite's copy is read
back for that list), and the files are copied after it, so every file a row names is in the
backup and files stored later are not. A folder is written under a hidden name and renamed
when complete: a `pedslink-*` folder is never half a backup.

Restore goes only into an empty database and empty storage, after every checksum matched.
This module imports no app above the base layer: the tables with stored files are found
from the models' fields (a `FileField`, or a `storage_key` column).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, connections, models
from django.db.migrations.loader import MigrationLoader
from django.utils.timezone import now

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
FOLDER = re.compile(r"^pedslink-\d{8}-\d{6}$")
CHUNK = 1024 * 1024
# Where viewer.rendering.cache keeps its renderings (its PREFIX; the base layer does not import
# the viewer, a test checks the two agree).
RENDER_CACHE_PREFIX = "render-cache"
# A database holding rows of any app's `backup_key_models` (an AppConfig attribute: names of
# that app's models) is not "empty": restore refuses it. (A freshly migrated database has rows
# elsewhere: content types, permissions, the default SLA policies.) The apps declare them so
# that the base layer names no feature's models.
# libpq connection keywords Django's OPTIONS may carry (the rest are Django's own).
LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "options",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "service",
    "passfile",
}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class Snapshot:
    """What the database snapshot says: read from the dump's own transaction or copy."""

    engine: str
    migrations: dict[str, list[str]]
    counts: dict[str, int]
    stored_keys: list[str]
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class VerifyReport:
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Helpers


def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", Path(settings.BASE_DIR) / "var" / "backups"))


def engine() -> str:
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    return vendor


def _copy_hashed(src: IO[bytes], dst: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while block := src.read(CHUNK):
        digest.update(block)
        dst.write(block)
        size += len(block)
    return size, digest.hexdigest()


def _hash_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _stored_file_columns() -> list[tuple[str, str]]:
    """(table, column) of every field that names a file in the default storage."""
    columns = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.FileField) or f.name == "storage_key":
                columns.append((model._meta.db_table, f.column))
    return sorted(set(columns))


def _model_tables() -> set[str]:
    tables = {"django_migrations"}
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.proxy and model._meta.managed:
            tables.add(model._meta.db_table)
    return tables


def _qn(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_snapshot(cursor: Any, engine_name: str, existing_tables: set[str]) -> Snapshot:
    """Migrations, row counts and referenced storage keys, read with one DB-API cursor (inside
    the dump's snapshot for PostgreSQL, from the copy for SQLite)."""
    tables = sorted(_model_tables() & existing_tables)
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {_qn(table)}")  # noqa: S608 - our own table names
        counts[table] = cursor.fetchone()[0]
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in existing_tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    keys: set[str] = set()
    for table, column in _stored_file_columns():
        if table not in existing_tables:
            continue
        cursor.execute(
            f"SELECT {_qn(column)} FROM {_qn(table)} "  # noqa: S608 - our own names
            f"WHERE {_qn(column)} IS NOT NULL AND {_qn(column)} <> ''"
        )
        keys.update(row[0] for row in cursor.fetchall())
    return Snapshot(engine_name, migrations, counts, sorted(keys))


def patient_id_key_check() -> str:
    """A fingerprint of PATIENT_ID_HMAC_KEY that reveals nothing of it: a restore under another
    key is warned about (national-ID fingerprints would no longer match new ones)."""
    key = settings.PATIENT_ID_HMAC_KEY.encode()
    return hmac.new(key, b"pedslink backup key check", hashlib.sha256).hexdigest()[:16]


def _pedslink_version() -> dict[str, str | None]:
    base = Path(settings.BASE_DIR)
    version = commit = None
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, KeyError):
        version = tomllib.loads((base / "pyproject.toml").read_text())["project"]["version"]
    if (base / ".git").exists() and shutil.which("git"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, read only
                cwd=base,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            commit = done.stdout.strip() or None if done.returncode == 0 else None
    return {"version": version, "commit": commit}


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def _pg_params(settings_dict: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """libpq keywords (no password) and the password, from a Django database setting."""
    params = {"dbname": settings_dict["NAME"]}
    for key, setting in (("user", "USER"), ("host", "HOST"), ("port", "PORT")):
        if settings_dict.get(setting):
            params[key] = str(settings_dict[setting])
    for key, value in (settings_dict.get("OPTIONS") or {}).items():
        if key in LIBPQ_OPTIONS:
            params[key] = str(value)
    return params, settings_dict.get("PASSWORD") or None


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install the Debian package postgresql-client "
            "(of the server's major version or newer)."
        )
    return path


def _tool_major(tool: str) -> int:
    argv = [tool, "--version"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise BackupError(f"Cannot read the version of {tool}: {out.strip()}")
    return int(match.group(1))


def _pg_run(argv: list[str], params: dict[str, str], password: str | None) -> None:
    from psycopg.conninfo import make_conninfo

    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password  # not in argv, where `ps` would show it
    argv = [*argv, "--dbname", make_conninfo(**params)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {done.stderr.strip()}")


def _pg_connect(settings_dict: dict[str, Any]) -> Any:
    import psycopg

    params, password = _pg_params(settings_dict)
    return psycopg.connect(**params, **({"password": password} if password else {}))


def _pg_dump(target: Path) -> Snapshot:
    """Dump in a repeatable-read transaction whose snapshot pg_dump shares: the list of
    referenced files and the counts come from exactly the state that was dumped."""
    pg_dump = _pg_tool("pg_dump")
    params, password = _pg_params(connection.settings_dict)
    with _pg_connect(connection.settings_dict) as conn:
        import psycopg

        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        cursor = conn.cursor()
        cursor.execute("SELECT current_setting('server_version_num')::int, version()")
        server_num, server_text = cursor.fetchone()
        server_major, client_major = server_num // 10000, _tool_major(pg_dump)
        if client_major < server_major:
            raise BackupError(
                f"pg_dump {client_major} cannot dump a PostgreSQL {server_major} server: "
                f"install postgresql-client-{server_major}."
            )
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot_id = cursor.fetchone()[0]
        _pg_run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot_id}", f"--file={target}"],
            params,
            password,
        )
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        existing = {row[0] for row in cursor.fetchall()}
        snap = read_snapshot(cursor, "postgresql", existing)
        conn.rollback()
    snap.details = {
        "server_version": server_text,
        "server_major": str(server_major),
        "pg_dump_major": str(client_major),
    }
    return snap


def _pg_restore(dump: Path, manifest: dict[str, Any]) -> None:
    pg_restore = _pg_tool("pg_restore")
    dump_major = int(manifest["database"].get("pg_dump_major") or 0)
    if _tool_major(pg_restore) < dump_major:
        raise BackupError(
            f"This backup was written by pg_dump {dump_major}: restore it with pg_restore "
            f"{dump_major} or newer (postgresql-client-{dump_major})."
        )
    _drop_empty_schema()
    params, password = _pg_params(connection.settings_dict)
    _pg_run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            str(dump),
        ],
        params,
        password,
    )


def _drop_empty_schema() -> None:
    """A freshly migrated target (no key rows, checked before) has PedsLink's tables: drop
    them so that the dump recreates them as they were. Other tables are left alone."""
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in sorted(_model_tables() & existing):
            cursor.execute(f"DROP TABLE IF EXISTS {_qn(table)} CASCADE")
        cursor.execute("DROP FUNCTION IF EXISTS consult_auditevent_append_only() CASCADE")


# ---------------------------------------------------------------------------------------------
# SQLite


def _sqlite_copy(target: Path) -> Snapshot:
    source = sqlite3.connect(connection.settings_dict["NAME"])
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one consistent copy, even while the site writes
        cursor = copy.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        existing = {row[0] for row in cursor.fetchall()}
        snap = read_snapshot(cursor, "sqlite", existing)
    finally:
        copy.close()
        source.close()
    snap.details = {"sqlite_version": sqlite3.sqlite_version}
    return snap


def _sqlite_restore(copy: Path) -> None:
    target = connection.settings_dict["NAME"]
    connections.close_all()
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)  # replaces the whole target database in one step
    finally:
        dest.close()
        source.close()


# ---------------------------------------------------------------------------------------------
# Backup


def _storage_walk(path: str) -> Iterator[str]:
    """Every file key under `path` of the default storage (local disk or S3)."""
    try:
        dirs, files = default_storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    prefix = f"{path.rstrip('/')}/" if path else ""
    for name in sorted(files):
        yield prefix + name
    for name in sorted(dirs):
        yield from _storage_walk(prefix + name)


def _copy_stored(key: str, folder: Path) -> dict[str, Any] | None:
    """Copy one stored file into the backup; None if it is gone."""
    path = folder / FILES / key
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with default_storage.open(key, "rb") as src, path.open("wb") as dst:
            size, sha256 = _copy_hashed(src, dst)
    except FileNotFoundError:
        path.unlink(missing_ok=True)
        return None
    return {"path": f"{FILES}/{key}", "size": size, "sha256": sha256}


def backup_create(
    *,
    destination: Path | None = None,
    with_render_cache: bool = False,
    log: Any = None,
) -> tuple[Path, list[str]]:
    """Write a backup folder; answer its path and the referenced files that were missing
    (the backup is written either way, the caller reports them)."""
    say = log or (lambda _msg: None)
    vendor = engine()
    root = destination or backup_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = now()
    name = f"pedslink-{created.astimezone(dt.UTC):%Y%m%d-%H%M%S}"
    final, work = root / name, root / f".{name}.partial"
    if final.exists() or work.exists():
        raise BackupError(f"{final} already exists: one backup per second at most.")
    work.mkdir(mode=0o700)  # patient data: readable by the owner only
    try:
        db_file = PG_DUMP_FILE if vendor == "postgresql" else SQLITE_FILE
        say(f"Database ({vendor}) -> {db_file}")
        snap = (_pg_dump if vendor == "postgresql" else _sqlite_copy)(work / db_file)
        size, sha256 = _hash_file(work / db_file)
        entries = [{"path": db_file, "size": size, "sha256": sha256}]
        missing = []
        say(f"Stored files referenced by the database: {len(snap.stored_keys)}")
        for key in snap.stored_keys:
            _check_key(key)
            entry = _copy_stored(key, work)
            if entry is None:
                missing.append(key)
            else:
                entries.append(entry)
        if with_render_cache:
            cached = [_copy_stored(key, work) for key in _storage_walk(RENDER_CACHE_PREFIX)]
            say(f"Render cache files: {sum(1 for e in cached if e)}")
            entries += [e for e in cached if e]
        manifest = {
            "format": FORMAT,
            "created": created.isoformat(),
            "pedslink": _pedslink_version(),
            "database": {"engine": vendor, "file": db_file, **snap.details},
            "migrations": snap.migrations,
            "counts": snap.counts,
            "patient_id_key_check": patient_id_key_check(),
            "with_render_cache": with_render_cache,
            "missing_files": missing,
            "files": entries,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, missing


def backups_prune(*, keep: int, root: Path | None = None) -> list[Path]:
    """Delete all but the newest `keep` complete backups in `root` (names sort by time)."""
    root = root or backup_dir()
    complete = sorted(
        p for p in root.iterdir() if p.is_dir() and FOLDER.match(p.name) and (p / MANIFEST).exists()
    )
    doomed = complete[: max(len(complete) - keep, 0)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


# ---------------------------------------------------------------------------------------------
# Verify


def _check_key(key: str) -> None:
    """A storage key or manifest path that stays inside its folder (a tampered manifest must
    not write outside the storage or the backup)."""
    pure = PurePosixPath(key)
    if not key or pure.is_absolute() or ".." in pure.parts or "\\" in key or "\0" in key:
        raise BackupError(f"Refusing an unsafe file name in the backup: {key!r}")


def load_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{folder} has no {MANIFEST}: not a PedsLink backup.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{folder / MANIFEST} is damaged: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder / MANIFEST} is not a backup manifest of format {FORMAT}.")
    try:
        for entry in manifest["files"]:
            _check_key(entry["path"])
            int(entry["size"]), str(entry["sha256"])
        manifest["database"]["engine"], manifest["database"]["file"], dict(manifest["counts"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{folder / MANIFEST} is damaged: {exc!r} is wrong or missing.") from exc
    return manifest


def backup_verify(folder: Path) -> tuple[dict[str, Any], VerifyReport]:
    """Check every file of a backup against its manifest (size, SHA-256) and that the database
    file reads; nothing is restored. Problems are listed, not raised."""
    manifest = load_manifest(folder)
    report = VerifyReport()
    listed = set()
    for entry in manifest["files"]:
        path = folder / entry["path"]
        listed.add(entry["path"])
        if not path.is_file():
            report.problems.append(f"missing: {entry['path']}")
            continue
        size, sha256 = _hash_file(path)
        if (size, sha256) != (entry["size"], entry["sha256"]):
            report.problems.append(f"checksum mismatch: {entry['path']}")
            continue
        report.files += 1
        report.bytes += size
    for path in sorted((folder / FILES).rglob("*")) if (folder / FILES).exists() else []:
        if path.is_file() and path.relative_to(folder).as_posix() not in listed:
            report.problems.append(f"not in the manifest: {path.relative_to(folder).as_posix()}")
    for key in manifest.get("missing_files", []):
        report.problems.append(f"was missing from storage when backed up: {key}")
    if not report.problems:
        report.problems += _database_readable(folder, manifest)
    return manifest, report


def _database_readable(folder: Path, manifest: dict[str, Any]) -> list[str]:
    db = manifest["database"]
    path = folder / db["file"]
    if db["engine"] == "sqlite":
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        finally:
            conn.close()
        return [] if result == "ok" else [f"database copy is damaged: {result}"]
    done = subprocess.run(  # noqa: S603 - pg_restore on our own file
        [_pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, check=False
    )
    return [] if done.returncode == 0 else [f"pg_restore cannot read the dump: {done.stderr}"]


# ---------------------------------------------------------------------------------------------
# Restore


def key_models() -> list[type[models.Model]]:
    """The models whose rows make a database "not empty", as the apps declare them."""
    found = []
    for config in apps.get_app_configs():
        for name in getattr(config, "backup_key_models", ()):
            with contextlib.suppress(LookupError):
                found.append(config.get_model(name))
    return found


def database_is_empty() -> tuple[bool, dict[str, int]]:
    """Whether the target database holds no PedsLink data (rows of the key tables)."""
    existing = set(connection.introspection.table_names())
    found = {}
    for model in key_models():
        if model._meta.db_table in existing and model._base_manager.exists():
            found[model._meta.db_table] = model._base_manager.count()
    return not found, found


def storage_first_file() -> str | None:
    return next(_storage_walk(""), None)


def _unknown_migrations(manifest: dict[str, Any]) -> list[str]:
    """Migrations the backup has applied that this code does not have (a newer PedsLink)."""
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return [
        f"{app}.{name}"
        for app, names in manifest.get("migrations", {}).items()
        for name in names
        if (app, name) not in on_disk
    ]


def _counts_now(tables: dict[str, int]) -> dict[str, int]:
    existing = set(connection.introspection.table_names())
    out = {}
    with connection.cursor() as cursor:
        for table in tables:
            if table in existing:
                cursor.execute(f"SELECT COUNT(*) FROM {_qn(table)}")  # noqa: S608 - our names
                out[table] = cursor.fetchone()[0]
    return out


def backup_restore(*, folder: Path, log: Any = None) -> dict[str, Any]:
    """Bring a verified backup into an empty database and empty storage. Refuses (before
    writing anything) a damaged backup, another engine, a backup from newer code, a database
    with PedsLink data and storage with any file. Answers the manifest."""
    say = log or (lambda _msg: None)
    manifest, report = backup_verify(folder)
    if report.problems:
        raise BackupError(
            "The backup does not match its manifest; nothing was restored:\n  "
            + "\n  ".join(report.problems)
        )
    say(f"Backup verified: {report.files} files, {report.bytes} bytes.")
    vendor, wanted = engine(), manifest["database"]["engine"]
    if vendor != wanted:
        raise BackupError(
            f"This is a {wanted} backup and the target database is {vendor}: "
            f"set DATABASE_URL to a {wanted} database."
        )
    unknown = _unknown_migrations(manifest)
    if unknown:
        raise BackupError(
            "This backup was made by a newer PedsLink (migrations unknown here: "
            + ", ".join(unknown[:5])
            + "): update the code first."
        )
    empty, found = database_is_empty()
    if not empty:
        rows = ", ".join(f"{table}: {n}" for table, n in sorted(found.items()))
        raise BackupError(
            "The target database already holds PedsLink data (" + rows + "); restore only "
            "into an empty database (create a new one and point DATABASE_URL at it)."
        )
    first = storage_first_file()
    if first is not None:
        raise BackupError(
            f"The target storage is not empty (it holds {first}); restore only into empty "
            "storage (a new MEDIA_ROOT or bucket)."
        )
    say(f"Restoring the database from {manifest['database']['file']}")
    db_file = folder / manifest["database"]["file"]
    if vendor == "postgresql":
        _pg_restore(db_file, manifest)
    else:
        _sqlite_restore(db_file)
    counts = _counts_now(manifest["counts"])
    wrong = [t for t, n in manifest["counts"].items() if counts.get(t) != n]
    if wrong:
        raise BackupError("Restored row counts differ from the manifest in: " + ", ".join(wrong))
    stored = [e for e in manifest["files"] if e["path"].startswith(FILES + "/")]
    say(f"Restoring {len(stored)} stored files")
    for entry in stored:
        _restore_file(folder, entry)
    return manifest


def _restore_file(folder: Path, entry: dict[str, Any]) -> None:
    key = entry["path"][len(FILES) + 1 :]
    with (folder / entry["path"]).open("rb") as fh:
        saved = default_storage.save(key, File(fh, name=key))
    if saved != key:
        raise BackupError(f"{key} was stored as {saved}: the storage was written to meanwhile.")

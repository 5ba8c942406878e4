"""DICOM bytes in Django storage: server-generated keys, zeroed preamble, streamed.

Keys never come from UIDs or file names, so nothing a sender writes can steer where a
file lands. The 128-byte preamble can carry an executable (PS3.10 allows anything); it is
zeroed on the way in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils.timezone import now

CHUNK = 1024 * 1024
PREAMBLE = 128


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


def new_key(prefix: str = "dicom") -> str:
    today = now()
    return f"{prefix}/{today:%Y/%m/%d}/{uuid.uuid4().hex}.dcm"


class _ZeroedPreamble(File):
    """Reads the source once, zeroing bytes 0-127 and hashing what it hands out."""

    def __init__(self, src: IO[bytes], *, add_preamble: bool = False) -> None:
        super().__init__(src, name="upload.dcm")
        src.seek(0)
        self.src = src
        self.pos = 0
        self.digest = hashlib.sha256()
        # A file meta group sent without preamble gets the PS3.10 preamble and marker.
        self.lead = b"\0" * PREAMBLE + b"DICM" if add_preamble else b""

    def read(self, size: int = -1) -> bytes:
        want = size if size and size > 0 else CHUNK * 64
        if self.lead:
            block, self.lead = self.lead, b""
        elif self.pos < PREAMBLE:
            # The preamble is handed out alone, zeroed: the rest goes through uncopied.
            block = b"\0" * len(self.src.read(min(want, PREAMBLE - self.pos)))
        else:
            block = self.src.read(want)
        self.pos += len(block)
        self.digest.update(block)
        return block

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        while block := self.read(chunk_size or CHUNK):
            yield block

    def multiple_chunks(self, chunk_size: int | None = None) -> bool:
        return True

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.pos


def hash_zeroed(src: IO[bytes], *, add_preamble: bool = False) -> str:
    """The SHA-256 the stored copy of `src` would have (preamble zeroed)."""
    reader = _ZeroedPreamble(src, add_preamble=add_preamble)
    for _block in reader.chunks():
        pass
    return reader.digest.hexdigest()


def store_file(src: IO[bytes], *, prefix: str = "dicom", add_preamble: bool = False) -> Stored:
    """Stream `src` into storage under a fresh key; answer its key, size and SHA-256."""
    reader = _ZeroedPreamble(src, add_preamble=add_preamble)
    key = _save(new_key(prefix), reader)
    return Stored(key=key, size=reader.pos, sha256=reader.digest.hexdigest())


# Folders this process has had Django create (with its permissions), and the storage root's
# group for each: a new file there is written directly.
_folders: dict[str, int] = {}


def _save(key: str, reader: _ZeroedPreamble) -> str:
    """`default_storage.save`, without its look for a free name (a fresh uuid4 key is free)
    when the storage is the plain FileSystemStorage and Django already made the folder: the
    same O_CREAT|O_EXCL open, permissions and group as Django's own `_save`. Any other
    storage (S3), and the first file of each folder, go through Django."""
    if default_storage.__class__ is not FileSystemStorage:
        return default_storage.save(key, reader)
    path = default_storage.path(key)
    folder = os.path.dirname(path)
    gid = _folders.get(folder)
    if gid is None:
        key = default_storage.save(key, reader)
        if len(_folders) > 1000:
            _folders.clear()
        _folders[folder] = os.stat(default_storage.location).st_gid
        return key
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except FileNotFoundError:  # the folder was removed since
        del _folders[folder]
        return default_storage.save(key, reader)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in reader.chunks():
                out.write(block)
            if default_storage.file_permissions_mode is not None:
                os.fchmod(out.fileno(), default_storage.file_permissions_mode)
            if os.fstat(out.fileno()).st_gid != gid:
                with contextlib.suppress(PermissionError):
                    os.fchown(out.fileno(), -1, gid)
    except BaseException:
        os.unlink(path)
        raise
    return key


def open_stored(key: str) -> IO[bytes]:
    return default_storage.open(key, "rb")


def delete_stored(key: str) -> None:
    default_storage.delete(key)


def iter_stored(key: str, chunk: int = CHUNK) -> Iterator[bytes]:
    with open_stored(key) as fp:
        while block := fp.read(chunk):
            yield block

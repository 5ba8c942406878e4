"""multipart/related in and out, streamed (pure: no ORM).

STOW-RS bodies can be gigabytes: parts are spooled to temporary files one at a time, and
WADO-RS answers are generated part by part from storage.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 1024 * 1024


class MultipartError(ValueError):
    pass


@dataclass
class Part:
    headers: dict[str, str]
    file: IO[bytes]
    size: int
    truncated: bool  # larger than the cap: the rest was drained, not kept

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    media, *params = [item.strip() for item in value.split(";")]
    out = {}
    for item in params:
        key, _, val = item.partition("=")
        out[key.strip().lower()] = val.strip().strip('"')
    return media.lower(), out


def iter_parts(
    read: Callable[[int], bytes], boundary: str, *, max_part_bytes: int
) -> Iterator[Part]:
    """Yield each part, spooled; the caller must finish with one before asking for the next."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    keep = len(delimiter) + 4
    buf = bytearray(b"\r\n")
    eof = False

    def fill() -> bool:
        nonlocal eof
        if eof:
            return False
        block = read(CHUNK)
        if not block:
            eof = True
            return False
        buf.extend(block)
        return True

    # Preamble: everything before the first delimiter is ignored.
    while (at := buf.find(delimiter)) < 0:
        del buf[: max(0, len(buf) - keep)]
        if not fill():
            raise MultipartError("no multipart boundary found")
    del buf[: at + len(delimiter)]
    while True:
        while len(buf) < 2 and fill():
            pass
        if buf[:2] == b"--":
            return
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > 64 * 1024 or not fill():
                raise MultipartError("part headers not terminated")
        headers = _headers(bytes(buf[:end]))
        del buf[: end + 4]
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        size, truncated = 0, False
        while True:
            at = buf.find(delimiter)
            if at >= 0:
                size, truncated = _write(spool, buf, at, size, truncated, max_part_bytes)
                del buf[: at + len(delimiter)]
                break
            if len(buf) > keep:
                cut = len(buf) - keep
                size, truncated = _write(spool, buf, cut, size, truncated, max_part_bytes)
                del buf[:cut]
            if not fill():
                spool.close()
                raise MultipartError("body ended inside a part")
        spool.seek(0)
        try:
            yield Part(headers=headers, file=spool, size=size, truncated=truncated)
        finally:
            spool.close()


def _write(
    spool: IO[bytes], buf: bytearray, end: int, size: int, truncated: bool, cap: int
) -> tuple[int, bool]:
    """Append buf[:end] to the part's spool without copying it first (a view, released
    before the caller trims the buffer)."""
    size += end
    if size > cap:
        return size, True
    if not truncated:
        with memoryview(buf) as view:
            spool.write(view[:end])
    return size, truncated


def _headers(raw: bytes) -> dict[str, str]:
    out = {}
    for line in raw.decode("latin-1").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def new_boundary() -> str:
    return uuid.uuid4().hex


def stream_parts(parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """Encode (content type, chunks) pairs as a multipart/related body."""
    for content_type, chunks in parts:
        yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
        yield from chunks
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()

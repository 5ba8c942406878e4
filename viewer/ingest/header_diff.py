"""Two versions of one instance's header, side by side (pure: no ORM, no storage).

Used by the conflict review page: the stored file and the one that arrived later under the
same SOP Instance UID. Only headers are read (never pixels), and long values are shortened
so that a hostile or huge element cannot blow up the page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

MAX_VALUE_CHARS = 200
MAX_ROWS = 2000


@dataclass(frozen=True)
class Row:
    tag: str  # "(0010,0010)"
    keyword: str
    vr: str
    stored: str | None  # None: the element is absent from that version
    new: str | None

    @property
    def differs(self) -> bool:
        return self.stored != self.new


def read_header(fp: IO[bytes]) -> Dataset:
    """The file meta and data set up to (not including) the pixel data."""
    return pydicom.dcmread(fp, stop_before_pixels=True, force=True)


def show(element: pydicom.DataElement) -> str:
    """A short, comparable text for one element's value."""
    value = element.value
    if element.VR == "SQ":
        items = [show_dataset(item) for item in value]
        digest = hashlib.sha256("\n".join(items).encode()).hexdigest()[:12]
        return f"<{len(items)} item(s), {digest}>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes, {hashlib.sha256(value).hexdigest()[:12]}>"
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def show_dataset(ds: Dataset) -> str:
    return "\n".join(f"{el.tag}={show(el)}" for el in ds)


def _elements(ds: Dataset) -> dict[int, pydicom.DataElement]:
    out = {}
    meta = getattr(ds, "file_meta", None)
    for source in (meta, ds):
        if source is None:
            continue
        for element in source:
            out[int(element.tag)] = element
    return out


def compare(stored: Dataset, new: Dataset) -> list[Row]:
    """Every element of either header in tag order, each with both values."""
    a, b = _elements(stored), _elements(new)
    rows = []
    for tag in sorted(set(a) | set(b))[:MAX_ROWS]:
        element = a.get(tag) or b[tag]
        rows.append(
            Row(
                tag=f"({tag >> 16:04X},{tag & 0xFFFF:04X})",
                keyword=element.keyword or "",
                vr=str(element.VR),
                stored=show(a[tag]) if tag in a else None,
                new=show(b[tag]) if tag in b else None,
            )
        )
    return rows


__all__ = ["InvalidDicomError", "Row", "compare", "read_header", "show"]

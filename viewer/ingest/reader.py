"""Pure DICOM checks for the ingest pipeline: header parsing, bounds, text decoding, zips.

No ORM here. Every function answers with a Header or raises IngestError whose message is
shown to the sender next to the file name. Hostile input is bounded: the file size is
capped before parsing, large values are skipped not read (defer_size), declared lengths
are checked against the file, sequences are walked with a depth cap and a deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pydicom
from django.utils.translation import gettext_lazy as _
from pydicom.charset import python_encoding
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

log = logging.getLogger(__name__)
UID_RE = re.compile(r"^[0-9.]{1,64}$")
DEFER_BYTES = 64 * 1024
GB_PAIRS = re.compile(rb"(?:[\x00-\x7f]|[\x81-\xfe][\x80-\xfe])*")
UNDEFINED = 0xFFFFFFFF
PIXEL_DATA = 0x7FE00010
PIXEL_DATA_TAGS = {PIXEL_DATA, 0x7FE00008, 0x7FE00009}
# (0002,0000) UL, length 4: the file meta group's length, first in an explicit-VR meta group.
META_GROUP_LENGTH = b"\x02\x00\x00\x00UL\x04\x00"
MAX_META_BYTES = 64 * 1024
DEFLATED_UID = pydicom.uid.DeflatedExplicitVRLittleEndian.encode()
# Text fields we index, decoded ourselves so a wrong or missing charset can fall back.
TEXT_TAGS = {
    "patient_name": 0x00100010,
    "study_description": 0x00081030,
    "series_description": 0x0008103E,
    "institution_name": 0x00080080,
    "body_part": 0x00180015,
}


class IngestError(Exception):
    """A file refused, with a reason a doctor can act on."""

    def __init__(self, code: str, message: Any) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_pixel_bytes: int
    max_zip_members: int
    max_zip_bytes: int
    max_sequence_depth: int
    parse_seconds: float
    max_header_bytes: int = 16 * 1024**2


@dataclass
class Header:
    """What the index needs from one instance's header."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    has_preamble: bool
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: dt.date | None = None
    patient_sex: str = ""
    study_date: dt.date | None = None
    study_time: dt.time | None = None
    study_description: str = ""
    accession_number: str = ""
    institution_name: str = ""
    modality: str = ""
    body_part: str = ""
    series_description: str = ""
    series_number: int | None = None
    frame_of_reference_uid: str = ""
    instance_number: int | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int = 1
    pixel_spacing: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def parse_header(fp: IO[bytes], *, size: int, limits: Limits) -> Header:
    """Parse and check one PS3.10 file's header (never its pixels).

    Whatever damaged bytes make pydicom, zlib or struct raise becomes an IngestError with a
    reason: one unreadable file is that file's refusal, never the whole request's failure.
    """
    try:
        return _parse_header(fp, size=size, limits=limits)
    except IngestError:
        raise
    except RecursionError:
        raise IngestError("too_deep", _("Sequences are nested too deeply.")) from None
    except zlib.error as exc:
        raise IngestError("bad_deflate", _("The deflated data is damaged.")) from exc
    except (InvalidDicomError, EOFError, struct.error) as exc:
        raise IngestError("truncated", _("The file is truncated or damaged.")) from exc
    except Exception as exc:  # pydicom raises many types on garbage; all mean "damaged"
        # The type only: a message could quote header values (patient data).
        log.info("DICOM header unreadable: %s", type(exc).__name__)
        raise IngestError("malformed", _("The DICOM header cannot be read.")) from exc


def _parse_header(fp: IO[bytes], *, size: int, limits: Limits) -> Header:
    if size > limits.max_file_bytes:
        raise IngestError(
            "too_large",
            _("The file is larger than the %(cap)s MB limit.")
            % {"cap": limits.max_file_bytes // 1024**2},
        )
    fp.seek(0)
    head = fp.read(132)
    has_preamble = len(head) == 132 and head[128:132] == b"DICM"
    # Some clients (pydicom's dcmwrite of an in-memory dataset) send the file meta group
    # without preamble and DICM marker; the stored copy gets them added.
    if not has_preamble and head[:2] != b"\x02\x00":
        raise IngestError("not_dicom", _("Not a DICOM file (no DICM marker)."))
    fp.seek(0)
    deadline = time.monotonic() + limits.parse_seconds
    deflated = _inflated_size(fp, has_preamble=has_preamble, limits=limits) is not None
    fp.seek(0)
    ds = pydicom.dcmread(
        fp if deflated else _ReadBudget(fp, limits.max_header_bytes),
        stop_before_pixels=True,
        defer_size=DEFER_BYTES,
        force=not has_preamble,
    )
    if not has_preamble and "TransferSyntaxUID" not in ds.file_meta:
        raise IngestError("not_dicom", _("Not a DICOM file (no DICM marker)."))
    pixel_at = fp.tell()
    _check_lengths(ds, size)
    _walk(ds, depth=0, limits=limits, deadline=deadline, size=size)
    _check_pixel_element(fp, ds, pixel_at, size)
    header = _header_from(ds, has_preamble=has_preamble)
    _check_pixel_budget(ds, header, limits)
    return header


def _inflated_size(fp: IO[bytes], *, has_preamble: bool, limits: Limits) -> int | None:
    """For a deflated file, its inflated size (checked against the cap by streaming, since
    pydicom inflates the whole dataset in memory); None for every other syntax."""
    if not _may_be_deflated(fp, has_preamble=has_preamble):
        return None
    try:
        fp.seek(132 if has_preamble else 0)
        # pydicom asks for BinaryIO; any binary file object (IO[bytes]) reads the same.
        meta = pydicom.filereader._read_file_meta_info(fp)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the full parse below reports damage with its reason
        return None
    if meta.get("TransferSyntaxUID") != pydicom.uid.DeflatedExplicitVRLittleEndian:
        return None
    inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    while block := fp.read(1024 * 1024):
        while block:
            total += len(inflater.decompress(block, 1024 * 1024))
            block = inflater.unconsumed_tail
            if total > limits.max_header_bytes * 16:
                raise IngestError("too_large", _("The deflated file inflates beyond the limit."))
    return total


def _may_be_deflated(fp: IO[bytes], *, has_preamble: bool) -> bool:
    """False when the file meta group, found by its group length as PS3.10 writes it, does
    not name the deflated transfer syntax: the usual file then skips a second parse of its
    meta group. A meta group that runs on past its declared length, or any other layout,
    answers True and gets the full check."""
    fp.seek(132 if has_preamble else 0)
    head = fp.read(12)
    if len(head) < 12 or head[:8] != META_GROUP_LENGTH:
        return True
    (length,) = struct.unpack("<L", head[8:12])
    if length > MAX_META_BYTES:
        return True
    meta = fp.read(length + 2)
    if len(meta) < length + 2 or meta[length:] == b"\x02\x00":
        return True
    return DEFLATED_UID in meta[:length]


class _ReadBudget:
    """A file that refuses to hand out more than `budget` bytes: a header of millions of
    tiny elements would otherwise cost far more memory than the file's size. Large values
    are skipped by seeking (defer_size), which costs nothing from the budget."""

    def __init__(self, fp: IO[bytes], budget: int) -> None:
        self._fp, self._left = fp, budget

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._left + 1
        self._left -= size
        if self._left < 0:
            raise IngestError("header_too_large", _("The DICOM header is too large."))
        return self._fp.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fp.seek(offset, whence)

    def tell(self) -> int:
        return self._fp.tell()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


def _check_lengths(ds: Dataset, size: int) -> None:
    for tag in list(ds._dict):
        raw = ds._dict[tag]
        length = getattr(raw, "length", None)
        tell = getattr(raw, "value_tell", None)
        if length is None or tell is None or length == UNDEFINED:
            continue
        if tell + length > size:
            raise IngestError(
                "bad_length", _("An element's declared length runs past the end of the file.")
            )


def _walk(ds: Dataset, *, depth: int, limits: Limits, deadline: float, size: int) -> None:
    """Convert every sequence (lazily parsed by pydicom) under a depth cap and a deadline."""
    if depth > limits.max_sequence_depth:
        raise IngestError("too_deep", _("Sequences are nested too deeply."))
    for tag in list(ds._dict):
        if time.monotonic() > deadline:
            raise IngestError("too_slow", _("The header took too long to read."))
        raw = ds._dict[tag]
        vr = getattr(raw, "VR", None) or _dictionary_vr(tag)
        if vr != "SQ" or getattr(raw, "value", b"") is None:
            continue
        element = ds[tag]
        for item in element.value or []:
            _walk(item, depth=depth + 1, limits=limits, deadline=deadline, size=size)


def _dictionary_vr(tag: int) -> str | None:
    try:
        return pydicom.datadict.dictionary_VR(tag)
    except KeyError:
        return None


def _check_pixel_element(fp: IO[bytes], ds: Dataset, at: int, size: int) -> None:
    """stop_before_pixels leaves the file at the pixel element: check its declared length."""
    fp.seek(at)
    raw = fp.read(12)
    if len(raw) < 8:
        return
    meta = ds.file_meta
    ts = pydicom.uid.UID(meta.get("TransferSyntaxUID", pydicom.uid.ImplicitVRLittleEndian))
    little = ts != pydicom.uid.ExplicitVRBigEndian
    endian = "<" if little else ">"
    group, elem = struct.unpack(endian + "HH", raw[:4])
    if (group << 16 | elem) not in PIXEL_DATA_TAGS:
        return
    if ts.is_implicit_VR:
        (length,), header_len = struct.unpack(endian + "L", raw[4:8]), 8
    else:
        if len(raw) < 12:
            raise IngestError("truncated", _("The file is truncated or damaged."))
        (length,), header_len = struct.unpack(endian + "L", raw[8:12]), 12
    if length != UNDEFINED and at + header_len + length > size:
        raise IngestError(
            "bad_length", _("The pixel data's declared length runs past the end of the file.")
        )


def _check_pixel_budget(ds: Dataset, header: Header, limits: Limits) -> None:
    bits = _int(ds, "BitsAllocated") or 8
    samples = _int(ds, "SamplesPerPixel") or 1
    rows, columns = header.rows or 0, header.columns or 0
    budget = rows * columns * header.number_of_frames * samples * max(bits // 8, 1)
    if budget > limits.max_pixel_bytes:
        raise IngestError(
            "pixels_too_large",
            _("The image is too large: %(rows)s × %(columns)s × %(frames)s frames.")
            % {"rows": rows, "columns": columns, "frames": header.number_of_frames},
        )


def _header_from(ds: Dataset, *, has_preamble: bool) -> Header:
    meta = ds.file_meta
    charsets = _charsets(ds)
    uids: dict[str, Any] = {
        "sop_instance_uid": _uid(ds, "SOPInstanceUID", _("SOP Instance UID")),
        "sop_class_uid": _uid(ds, "SOPClassUID", _("SOP Class UID")),
        "study_instance_uid": _uid(ds, "StudyInstanceUID", _("Study Instance UID")),
        "series_instance_uid": _uid(ds, "SeriesInstanceUID", _("Series Instance UID")),
    }
    ts = str(meta.get("TransferSyntaxUID", "") or "").strip("\0 ")
    if not UID_RE.match(ts):
        raise IngestError("bad_uid", _("The transfer syntax UID is missing or not valid."))
    texts = {key: decode_text(_raw_bytes(ds, tag), charsets) for key, tag in TEXT_TAGS.items()}
    frames = _int(ds, "NumberOfFrames") or 1
    return Header(
        **uids,
        transfer_syntax_uid=ts,
        has_preamble=has_preamble,
        patient_id=_ascii(ds, "PatientID", charsets)[:64],
        patient_name=texts["patient_name"][:200],
        patient_birth_date=_date(_ascii(ds, "PatientBirthDate", charsets)),
        patient_sex=_ascii(ds, "PatientSex", charsets)[:1],
        study_date=_date(_ascii(ds, "StudyDate", charsets)),
        study_time=_time(_ascii(ds, "StudyTime", charsets)),
        study_description=texts["study_description"][:200],
        accession_number=_ascii(ds, "AccessionNumber", charsets)[:64],
        institution_name=texts["institution_name"][:200],
        modality=_ascii(ds, "Modality", charsets)[:16],
        body_part=texts["body_part"][:64],
        series_description=texts["series_description"][:200],
        series_number=_int(ds, "SeriesNumber"),
        frame_of_reference_uid=_ascii(ds, "FrameOfReferenceUID", charsets)[:64],
        instance_number=_int(ds, "InstanceNumber"),
        rows=_int(ds, "Rows"),
        columns=_int(ds, "Columns"),
        number_of_frames=max(frames, 1),
        pixel_spacing=_ascii(ds, "PixelSpacing", charsets)[:64],
    )


def _raw_bytes(ds: Dataset, tag: int) -> bytes:
    raw = ds._dict.get(Tag(tag))
    if raw is None:
        return b""
    value = getattr(raw, "value", None)
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    # Already converted (rare for top-level text): re-encode to decode uniformly.
    return str(value).encode("utf-8")


def _ascii(ds: Dataset, keyword: str, charsets: list[str]) -> str:
    tag = pydicom.datadict.tag_for_keyword(keyword)
    return decode_text(_raw_bytes(ds, tag), charsets) if tag is not None else ""


def _uid(ds: Dataset, keyword: str, label: Any) -> str:
    value = _ascii(ds, keyword, ["ISO_IR 6"])
    if not value:
        raise IngestError("missing_uid", _("The %(label)s is missing.") % {"label": label})
    if not UID_RE.match(value):
        raise IngestError("bad_uid", _("The %(label)s is not a valid UID.") % {"label": label})
    return value


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return None
        if isinstance(value, list | tuple | pydicom.multival.MultiValue):
            value = value[0]
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _charsets(ds: Dataset) -> list[str]:
    raw = _raw_bytes(ds, 0x00080005).decode("ascii", "replace")
    return [part.strip() for part in raw.split("\\")] if raw.strip() else []


def decode_text(raw: bytes, charsets: list[str]) -> str:
    """Decode a text value: the declared set first, then UTF-8, GB18030, Latin-1.

    Chinese hospitals often send GBK/GB18030 or UTF-8 bytes with the character set
    missing or declared as ISO_IR 100; strict decoding tells those apart.
    """
    # NUL is padding in DICOM and never part of a character in the sets we decode; inside a
    # value it is damage, and PostgreSQL text cannot hold it.
    raw = raw.replace(b"\x00", b"").rstrip(b" ")
    if not raw:
        return ""
    if raw.isascii():
        return raw.decode("ascii").strip()
    tried: list[str] = []
    for term in charsets:
        codec = python_encoding.get(term.replace("ISO 2022 ", "ISO 2022 "))
        if codec and codec not in tried and codec not in ("iso8859", "latin_1"):
            tried.append(codec)
    declared_latin = any(python_encoding.get(t) in ("iso8859", "latin_1") for t in charsets)
    fallbacks = ["utf_8"]
    # Declared Latin-1 but GBK bytes come in high-byte pairs; real Latin-1 text does not.
    if not declared_latin or GB_PAIRS.fullmatch(raw):
        fallbacks.append("gb18030")
    for codec in [*tried, *fallbacks]:
        try:
            return raw.decode(codec).strip()
        except (UnicodeDecodeError, LookupError):
            continue
    if any("2022" in term for term in charsets):
        try:
            return pydicom.charset.decode_bytes(raw, charsets, set()).strip()
        except Exception:  # noqa: S110 - fall through to Latin-1, which always decodes
            pass
    return raw.decode("latin_1").strip()


def _date(value: str) -> dt.date | None:
    value = value.replace(".", "").replace("-", "").strip()[:8]
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a date only
    except ValueError:
        return None


def _time(value: str) -> dt.time | None:
    digits = value.replace(":", "").split(".")[0].strip()
    try:
        hour, minute, second = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
        return dt.time(hour, minute, min(second, 59))
    except (ValueError, IndexError):
        return None


def person_name_groups(value: str) -> dict[str, str]:
    """A PN value as DICOM JSON: Alphabetic=Ideographic=Phonetic groups."""
    keys = ("Alphabetic", "Ideographic", "Phonetic")
    return {key: part for key, part in zip(keys, value.split("="), strict=False) if part}


# --- zip archives --------------------------------------------------------------------


@dataclass
class ZipMember:
    name: str
    size: int
    error: IngestError | None = None


def zip_members(archive: zipfile.ZipFile, *, limits: Limits) -> list[ZipMember]:
    """The members worth ingesting, each with its own refusal; the whole zip if over caps."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > limits.max_zip_members:
        raise IngestError(
            "zip_too_many",
            _("The zip holds %(count)s files; the limit is %(cap)s.")
            % {"count": len(infos), "cap": limits.max_zip_members},
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_zip_bytes:
        raise IngestError(
            "zip_too_large",
            _("The zip unpacks to %(size)s MB; the limit is %(cap)s MB.")
            % {"size": total // 1024**2, "cap": limits.max_zip_bytes // 1024**2},
        )
    return [ZipMember(info.filename, info.file_size, _member_error(info)) for info in infos]


def _member_error(info: zipfile.ZipInfo) -> IngestError | None:
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return IngestError("zip_path", _("An absolute path inside a zip is not allowed."))
    if ".." in re.split(r"[\\/]", name):
        return IngestError("zip_path", _("A '..' path inside a zip is not allowed."))
    if stat.S_ISLNK(info.external_attr >> 16):
        return IngestError("zip_symlink", _("A symbolic link inside a zip is not allowed."))
    if name.lower().endswith(".zip"):
        return IngestError("zip_nested", _("A zip inside a zip is not allowed."))
    return None


def iter_member_chunks(
    archive: zipfile.ZipFile, member: ZipMember, *, chunk: int = 1024**2
) -> Iterator[bytes]:
    """Stream a member out, stopping if it inflates beyond its declared size (zip bomb)."""
    seen = 0
    with archive.open(member.name) as src:
        while block := src.read(chunk):
            seen += len(block)
            if seen > member.size:
                raise IngestError("zip_size", _("A zip member is larger than it claims."))
            yield block


def looks_like_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

"""Transfer syntax negotiation and transcoding for WADO-RS (PS3.18 §8.7.3), pure.

We store whatever arrived. A retrieve answers in the stored transfer syntax unless the
client's Accept names one; then we can also produce the two native little-endian syntaxes
(explicit and implicit VR) from anything pydicom's pixel handlers decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pydicom
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

ANY = "*"
STORED = None  # no transfer-syntax parameter: as stored (see README, "DICOMweb")
NATIVE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


class NotAcceptable(Exception):
    """The Accept header names nothing we can produce (HTTP 406)."""


@dataclass
class MediaRange:
    media: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0


def _split(value: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_accept(header: str) -> list[MediaRange]:
    """Media ranges, highest q first (ties keep the client's order); q=0 ones dropped."""
    ranges = []
    for item in _split(header or "", ","):
        media, *raw = _split(item, ";")
        params = {}
        for p in raw:
            name, _eq, value = p.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0:
            ranges.append(MediaRange(media.lower(), params, q))
    return sorted(ranges, key=lambda r: -r.q)


def acceptable_syntaxes(header: str, part_media: str = "application/dicom") -> list[str | None]:
    """The transfer syntaxes a client accepts for parts of `part_media`, in preference
    order: a UID, ANY, or STORED (the range named no transfer-syntax). Raises
    NotAcceptable when no range allows `part_media` at all."""
    ranges = parse_accept(header)
    if not ranges:
        return [STORED]
    out: list[str | None] = []
    for r in ranges:
        if r.media == "multipart/related":
            inner = r.params.get("type", part_media).lower()
        else:
            inner = r.media
        if inner in ("*/*", "multipart/*"):
            out.append(STORED)
        elif inner in (part_media, part_media.split("/")[0] + "/*"):
            out.append(r.params.get("transfer-syntax") or STORED)
    if not out:
        raise NotAcceptable(f"Only {part_media} parts are served here.")
    return out


def can_decode(stored: str) -> bool:
    uid = UID(stored)
    if not uid.is_compressed:
        return True
    try:
        return get_decoder(uid).is_available
    except NotImplementedError:
        return False


def choose(stored: str, accepted: list[str | None], *, small_enough: bool = True) -> str:
    """The first accepted syntax we can produce from `stored`. A transcode holds the whole
    decoded instance in memory: `small_enough` says whether this one is within the cap."""
    for want in accepted:
        if want in (STORED, ANY) or want == stored:
            return stored
        if want in NATIVE and can_decode(stored) and small_enough:
            return want
    wanted = ", ".join(w for w in accepted if w) or "?"
    if not small_enough:
        raise NotAcceptable(
            f"The instance is stored as {stored} and too large to transcode here; "
            "ask for transfer-syntax=* (as stored) or for its frames one by one."
        )
    raise NotAcceptable(
        f"The instance is stored as {stored}; it can be sent as stored or as "
        f"{ExplicitVRLittleEndian} / {ImplicitVRLittleEndian}, not as {wanted}."
    )


def decoded_size(rows: int | None, columns: int | None, frames: int, stored_size: int) -> int:
    """Upper estimate of a transcode's memory: the file plus decoded pixels at up to
    4 bytes per pixel (16-bit grey is 2, 8-bit RGB 3)."""
    return stored_size + (rows or 0) * (columns or 0) * max(frames, 1) * 4


def transcode(fp: IO[bytes], target: str) -> bytes:
    """The whole instance re-encoded in a native little-endian syntax. The SOP Instance
    UID is kept (a lossless decode changes the encoding, not the image); a lossy source
    keeps its LossyImageCompression flag."""
    ds = pydicom.dcmread(fp)
    source = UID(ds.file_meta.TransferSyntaxUID)
    for _element in ds.iterall():  # decode every raw value in the stored encoding
        pass
    if source.is_compressed:
        ds.decompress(generate_instance_uid=False)
    elif source == pydicom.uid.ExplicitVRBigEndian and "PixelData" in ds:
        bits = int(ds.BitsAllocated)
        if bits in (16, 32):
            width = bits // 8
            raw = np.frombuffer(ds.PixelData, dtype=f">u{width}")
            ds.PixelData = raw.astype(f"<u{width}").tobytes()
            ds["PixelData"].VR = "OW"
    target_uid = UID(target)
    ds.file_meta.TransferSyntaxUID = target_uid
    # Values were decoded on reading; only the declared encoding changes.
    ds.set_original_encoding(target_uid.is_implicit_VR, True)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


# --- frames (PS3.18 §8.7.3.3.2: bulk data media types) -----------------------------------

OCTET = "application/octet-stream"


@dataclass(frozen=True)
class FramePlan:
    media: str  # the parts' media type
    transfer_syntax: str  # what their transfer-syntax parameter says
    decode: bool  # False: the stored bytes (native frame or compressed bitstream)


def frame_plan(stored: str, stored_media: str, header: str) -> FramePlan:
    """How to answer a frames request. `stored_media` is the bitstream's own media type
    (image/jpeg, image/jp2, …) or application/octet-stream for native pixels.

    application/octet-stream without a transfer-syntax means Explicit VR Little Endian
    (PS3.18's default): a compressed instance's frames are then decoded; `*`, the
    bitstream's own media type or */* get the stored bytes."""
    uid = UID(stored)
    as_stored = FramePlan(
        stored_media, stored if uid.is_compressed else ExplicitVRLittleEndian, False
    )
    ranges = parse_accept(header)
    if not ranges:
        return as_stored
    for r in ranges:
        inner = r.params.get("type", "*/*").lower() if r.media == "multipart/related" else r.media
        want = r.params.get("transfer-syntax")
        if inner in ("*/*", "multipart/*"):
            return as_stored
        if inner == OCTET:
            if want == ANY or not uid.is_compressed and want in (None, ExplicitVRLittleEndian):
                return as_stored
            if want in (None, ExplicitVRLittleEndian) and can_decode(stored):
                return FramePlan(OCTET, ExplicitVRLittleEndian, True)
        elif (
            uid.is_compressed
            and inner in (stored_media, "image/*", "video/*")
            and want in (None, ANY, stored)
        ):
            return as_stored
    raise NotAcceptable(
        f"The frames are stored as {stored} ({stored_media}); they can be sent as stored or "
        f"as {OCTET} with transfer-syntax={ExplicitVRLittleEndian}."
    )


def decoded_frames(fp: IO[bytes], numbers: list[int]) -> list[bytes]:
    """Frames (1-based) decoded to native little-endian bytes, one at a time."""
    out = []
    for number in numbers:
        fp.seek(0)
        # pydicom asks for BinaryIO; any binary file object (IO[bytes]) reads the same.
        array = pydicom.pixels.pixel_array(fp, index=number - 1)  # type: ignore[arg-type]
        out.append(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return out

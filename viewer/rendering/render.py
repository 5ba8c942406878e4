"""Frame → pixels, with no ORM: decode, modality LUT, VOI, colour, resize, encode.

Everything the server shows of an image goes through `render_frame` (8-bit, windowed,
for any client) or `render_modality_png16` (lossless stored values, so that the browser
can window locally). A frame that cannot be decoded raises `RenderError` with a reason
that can be shown to the user; callers turn it into `placeholder_image`.
"""

from __future__ import annotations

import gzip
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pydicom import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array

MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
DEFAULT_QUALITY = 85
# Images larger than this are never decoded on a request path at full size by the viewer;
# the browser gets a reduced server rendering instead (see viewer/manifest.py).
LOCAL_WINDOW_MAX_PIXELS = 2048 * 2048

# CT presets (centre, width) in Hounsfield units; the viewer offers the same set.
CT_PRESETS: dict[str, tuple[float, float]] = {
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


class RenderError(Exception):
    """A frame that cannot be shown; `reason` is plain English for the user (translated by
    the caller when it is one of the known messages)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str = "LINEAR"

    @classmethod
    def parse(cls, text: str) -> Window:
        """`center,width[,function]` as in the DICOMweb `window` query parameter."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (2, 3):
            raise ValueError("window must be center,width[,function]")
        center, width = float(parts[0]), float(parts[1])
        if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
            raise ValueError("window width must be at least 1")
        function = parts[2].upper() if len(parts) == 3 else "LINEAR"
        if function not in VOI_FUNCTIONS:
            raise ValueError("window function must be linear, linear_exact or sigmoid")
        return cls(center, width, function)


@dataclass(frozen=True)
class RenderOptions:
    frame: int = 0
    window: Window | None = None
    viewport: tuple[int, int] | None = None
    media_type: str = "image/jpeg"
    quality: int = DEFAULT_QUALITY

    def cache_name(self) -> str:
        """A stable file name for this rendering (the render cache key)."""
        win = "" if self.window is None else f"w{self.window.center:g}_{self.window.width:g}"
        if self.window is not None and self.window.function != "LINEAR":
            win += self.window.function.lower()
        vp = "" if self.viewport is None else f"v{self.viewport[0]}x{self.viewport[1]}"
        ext = self.media_type.split("/")[1]
        return f"f{self.frame}{win}{vp}q{self.quality}.{ext}"


@dataclass
class Modality16:
    """A frame's stored values as a 16-bit PNG: value = (png - offset) * slope + intercept."""

    data: bytes
    offset: int
    slope: float
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)


def number_of_frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def decode_frame(ds: Dataset, frame: int = 0) -> np.ndarray:
    """One decoded frame, colour converted to RGB where the file is YBR."""
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise RenderError("The file holds no image.")
    frames = number_of_frames(ds)
    if not 0 <= frame < frames:
        raise RenderError("There is no such frame.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = pixel_array(ds, index=frame if frames > 1 else None)
    except NotImplementedError as exc:
        raise RenderError(_unsupported_reason(ds)) from exc
    except (ValueError, RuntimeError, KeyError, AttributeError, TypeError, OSError) as exc:
        if "plugin" in str(exc).lower() and "available" in str(exc).lower():
            raise RenderError(_unsupported_reason(ds)) from exc
        raise RenderError("The image data is damaged and cannot be decoded.") from exc
    if arr.ndim == 4:  # some decoders return all frames; keep the one asked for
        arr = arr[frame]
    return arr


def _unsupported_reason(ds: Dataset) -> str:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    name = getattr(ts, "name", "") or str(ts or "unknown")
    return f"This image's compression ({name}) cannot be decoded on this server."


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, MultiValue | list | tuple):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def file_window(ds: Dataset) -> Window | None:
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is None or width is None or width < 1:
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    return Window(center, width, function if function in VOI_FUNCTIONS else "LINEAR")


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """VOI windowing to 0..255 (DICOM PS3.3 C.11.2.1.2 and C.11.2.1.3)."""
    x = values.astype(np.float32, copy=False)
    c, w = window.center, window.width
    if window.function == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
    elif window.function == "LINEAR_EXACT":
        out = ((x - c) / w + 0.5) * 255.0
    else:
        out = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0 if w > 1 else (x > c - 0.5) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def auto_window(values: np.ndarray, ds: Dataset | None = None) -> Window:
    """For files that carry no window: unsigned 8-bit data as stored (ultrasound, photos:
    a uniform or dark frame stays as it is), otherwise the full range of the frame."""
    if ds is not None and _is_plain_8bit(ds):
        return Window(128.0, 256.0)
    lo, hi = float(values.min()), float(values.max())
    return Window((lo + hi) / 2 + 0.5, max(hi - lo + 1, 1.0))


def _is_plain_8bit(ds: Dataset) -> bool:
    return (
        int(ds.get("BitsStored", 16) or 16) <= 8
        and int(ds.get("PixelRepresentation", 0) or 0) == 0
        and "RescaleSlope" not in ds
    )


def _to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    shift = max(0, bits - 8)
    return np.clip(arr.astype(np.uint32) >> shift, 0, 255).astype(np.uint8)


def display_pixels(ds: Dataset, frame: int = 0, window: Window | None = None) -> np.ndarray:
    """The frame as 8-bit display values: (rows, cols) grey or (rows, cols, 3) RGB."""
    arr = decode_frame(ds, frame)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        try:
            rgb = apply_color_lut(arr, ds)
        except (ValueError, KeyError, AttributeError) as exc:
            raise RenderError("The colour palette of this image is damaged.") from exc
        bits = 16 if rgb.dtype != np.uint8 else 8
        return _to_uint8(rgb, bits)
    if arr.ndim == 3:  # RGB (YBR already converted by the decoder)
        bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
        return _to_uint8(arr, bits)
    values = apply_modality_lut(arr, ds)
    if window is not None:
        out = apply_window(values, window)
    elif "VOILUTSequence" in ds:
        out = _voi_lut_sequence(values, ds)
    else:
        out = apply_window(values, file_window(ds) or auto_window(values, ds))
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def _voi_lut_sequence(values: np.ndarray, ds: Dataset) -> np.ndarray:
    """The first VOI LUT (PS3.3 C.11.2.1.1). Written here rather than pydicom's apply_voi,
    which wraps indices around 8-bit tables before clamping them."""
    item = ds.VOILUTSequence[0]
    try:
        entries, first, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536
        data = item.LUTData
        if isinstance(data, bytes):
            order = (
                "<"
                if getattr(ds.file_meta, "TransferSyntaxUID", None) != "1.2.840.10008.1.2.2"
                else ">"
            )
            table = np.frombuffer(data, dtype=order + "u2", count=entries)
        else:
            table = np.asarray(data if isinstance(data, MultiValue | list) else [data], np.uint32)
    except (AttributeError, TypeError, ValueError) as exc:
        raise RenderError("The VOI LUT of this image is damaged.") from exc
    index = np.clip(np.rint(values).astype(np.int64) - first, 0, len(table) - 1)
    out = table[index].astype(np.float64)
    return np.clip(np.rint(out * 255.0 / (2 ** (bits or 16) - 1)), 0, 255).astype(np.uint8)


def fit_size(size: tuple[int, int], viewport: tuple[int, int]) -> tuple[int, int]:
    """(width, height) that fits `size` inside `viewport` keeping aspect; never enlarges."""
    w, h = size
    scale = min(viewport[0] / w, viewport[1] / h, 1.0)
    return max(1, round(w * scale)), max(1, round(h * scale))


def encode(image: Image.Image, media_type: str, quality: int = DEFAULT_QUALITY) -> bytes:
    buf = io.BytesIO()
    fmt = _PIL_FORMATS[media_type]
    if fmt == "PNG":
        image.save(buf, fmt, compress_level=1)
    elif fmt == "WEBP":
        image.save(buf, fmt, quality=quality, method=0)
    else:
        image.save(buf, fmt, quality=quality)
    return buf.getvalue()


def render_frame(ds: Dataset, options: RenderOptions) -> bytes:
    """The frame windowed, resized to the viewport and encoded; raises RenderError."""
    pixels = display_pixels(ds, options.frame, options.window)
    image = Image.fromarray(pixels)
    if options.viewport is not None:
        target = fit_size(image.size, options.viewport)
        if target != image.size:
            image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return encode(image, options.media_type, options.quality)


def modality_values(ds: Dataset, frame: int = 0) -> tuple[np.ndarray, int, float, float]:
    """A greyscale frame's stored values as uint16 (plus an offset for signed data) and how
    to read them: value = (stored - offset) * slope + intercept. Raises RenderError when the
    frame cannot be expressed that way (colour, >16 bits, modality LUT sequence)."""
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise RenderError("Colour images are windowed on the server.")
    if "ModalityLUTSequence" in ds or int(ds.get("BitsStored", 16) or 16) > 16:
        raise RenderError("This image's values do not fit the 16-bit form.")
    arr = decode_frame(ds, frame)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    offset = 32768 if signed else 0
    stored = (arr.astype(np.int32) + offset).clip(0, 65535).astype(np.uint16)
    slope = _first(ds.get("RescaleSlope")) or 1.0
    intercept = _first(ds.get("RescaleIntercept")) or 0.0
    return stored, offset, slope, intercept


def render_modality_png16(ds: Dataset, frame: int = 0) -> Modality16:
    """Stored values of a greyscale frame as a lossless 16-bit PNG (see modality_values)."""
    stored, offset, slope, intercept = modality_values(ds, frame)
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, "PNG", compress_level=1)
    return Modality16(buf.getvalue(), offset, slope, intercept)


def render_modality_u16(ds: Dataset, frame: int = 0) -> Modality16:
    """Stored values as raw little-endian uint16, row by row, gzipped (level 1): what the
    browser windows. Smaller than the PNG (no filter bytes; the zlib stream is alike) and, sent
    with `Content-Encoding: gzip`, inflated by the browser's network stack, so the page gets
    its pixels with no decoding of its own (the PNG needed a JavaScript unfilter per frame)."""
    stored, offset, slope, intercept = modality_values(ds, frame)
    data = gzip.compress(stored.astype("<u2").tobytes(), compresslevel=1, mtime=0)
    rows, columns = stored.shape[:2]
    return Modality16(data, offset, slope, intercept, {"rows": rows, "columns": columns})


def placeholder_image(
    reason: str, viewport: tuple[int, int] | None = None, media_type: str = "image/png"
) -> bytes:
    """A dark tile with a crossed frame: what a client draws instead of an undecodable frame.
    The reason travels beside it (header or JSON), in the user's language."""
    w, h = fit_size((256, 256), viewport) if viewport else (256, 256)
    image = Image.new("L", (w, h), 40)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, w - 1, h - 1], outline=120, width=2)
    draw.line([0, 0, w - 1, h - 1], fill=90, width=2)
    draw.line([0, h - 1, w - 1, 0], fill=90, width=2)
    draw.text((8, 8), reason[:40], fill=200)
    return encode(image, media_type if media_type in _PIL_FORMATS else "image/png")


def negotiate(accept: str) -> str | None:
    """The media type to answer with for an Accept header; None when nothing fits."""
    if not accept.strip():
        return "image/jpeg"
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        media, _sep, params = part.strip().partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        candidate = (
            "image/jpeg" if media in ("*/*", "image/*") else media if media in MEDIA_TYPES else None
        )
        if candidate and (best is None or q > best[0]):
            best = (q, candidate)
    return best[1] if best else None


def display_info(ds: Dataset) -> dict[str, Any]:
    """What the viewer needs to draw and measure an instance, from its header alone."""

    def floats(name: str) -> list[float] | None:
        value = ds.get(name)
        if value is None or value == "":
            return None
        try:
            return [float(v) for v in (value if isinstance(value, MultiValue) else [value])]
        except (TypeError, ValueError):
            return None

    window = file_window(ds)
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frame_time = _first(ds.get("FrameTime"))
    if frame_time is None and ds.get("RecommendedDisplayFrameRate"):
        rate = _first(ds.get("RecommendedDisplayFrameRate"))
        frame_time = 1000.0 / rate if rate else None
    local = (
        photometric in ("MONOCHROME1", "MONOCHROME2")
        and "ModalityLUTSequence" not in ds
        and int(ds.get("BitsStored", 16) or 16) <= 16
        and rows * cols <= LOCAL_WINDOW_MAX_PIXELS
    )
    return {
        "rows": rows,
        "columns": cols,
        "frames": number_of_frames(ds),
        "photometric": photometric,
        "signed": int(ds.get("PixelRepresentation", 0) or 0) == 1,
        "slope": _first(ds.get("RescaleSlope")) or 1.0,
        "intercept": _first(ds.get("RescaleIntercept")) or 0.0,
        "window": [window.center, window.width] if window else None,
        "voi_lut": "VOILUTSequence" in ds,
        "pixel_spacing": floats("PixelSpacing"),
        "imager_pixel_spacing": floats("ImagerPixelSpacing"),
        "orientation": floats("ImageOrientationPatient"),
        "position": floats("ImagePositionPatient"),
        "slice_location": _first(ds.get("SliceLocation")),
        "frame_time": frame_time,
        "frame_of_reference": str(ds.get("FrameOfReferenceUID", "") or ""),
        "local_window": local,
    }

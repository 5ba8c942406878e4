"""The render cache: rendered frames and 16-bit forms in Django storage, beside the DICOM.

Keys are `render-cache/<instance id>-<sha prefix>/<rendering>`: derived from server-made ids,
never from UIDs. Requests read from here first; on a miss they render once and store the
result, so the same rendering is decoded at most once (the Celery task fills the cache for
the default window ahead of the first view).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.timezone import now

from viewer.models import Instance, RenderInfo, Series
from viewer.rendering import render
from viewer.rendering.render import RenderError, RenderOptions

logger = logging.getLogger(__name__)

PREFIX = "render-cache"
THUMBNAIL_SIZE = (128, 128)
THUMBNAIL_OPTIONS = RenderOptions(viewport=THUMBNAIL_SIZE, quality=80)


@dataclass
class Result:
    """Bytes to send; `problem` is set (and `data` is a placeholder) when the frame failed."""

    data: bytes
    media_type: str
    problem: str = ""
    from_cache: bool = False


def cache_key(instance: Instance, name: str) -> str:
    return key_for(instance.pk, instance.sha256, name)


def key_for(instance_id: int, sha256: str, name: str) -> str:
    return f"{PREFIX}/{instance_id}-{sha256[:12]}/{name}"


def drop(instance_id: int, sha256: str) -> int:
    """Delete every rendering cached for these bytes of an instance (they were replaced)."""
    folder = key_for(instance_id, sha256, "").rstrip("/")
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    return len(files)


def modality16_headers(meta: dict) -> dict[str, str]:
    """How to read a 16-bit form: value = (stored - offset) * slope + intercept."""
    if not meta:
        return {}
    headers = {
        "X-Pixel-Offset": str(meta["offset"]),
        "X-Rescale-Slope": repr(float(meta["slope"])),
        "X-Rescale-Intercept": repr(float(meta["intercept"])),
    }
    if "rows" in meta:
        headers["X-Rows"] = str(meta["rows"])
        headers["X-Columns"] = str(meta["columns"])
    return headers


def _read(key: str) -> bytes | None:
    try:
        with default_storage.open(key, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, OSError):
        return None


def _write(key: str, data: bytes) -> None:
    """Store once; a concurrent writer's copy under another name is removed (same bytes)."""
    if default_storage.exists(key):
        return
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:
        default_storage.delete(saved)


def load_dataset(instance: Instance) -> pydicom.Dataset:
    try:
        with default_storage.open(instance.storage_key, "rb") as fh:
            return pydicom.dcmread(fh, force=True)
    except FileNotFoundError as exc:
        raise RenderError("The stored file is missing.") from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure is a reason, not a 500
        raise RenderError("The stored file cannot be read as DICOM.") from exc


def rendered(instance: Instance, options: RenderOptions) -> Result:
    """A rendered frame from the cache, or rendered now and cached; a placeholder on failure."""
    key = cache_key(instance, options.cache_name())
    data = _read(key)
    if data is not None:
        return Result(data, options.media_type, from_cache=True)
    try:
        data = render.render_frame(load_dataset(instance), options)
    except RenderError as exc:
        return Result(
            render.placeholder_image(exc.reason, options.viewport, options.media_type),
            options.media_type,
            problem=exc.reason,
        )
    _write(key, data)
    return Result(data, options.media_type)


# The two lossless 16-bit forms: the PNG (`modality.png`, for any client) and the raw gzipped
# values the viewer windows (`modality.u16`); each beside a JSON of how to read it.
FORMS = {
    "png": ("m16.png", "image/png", render.render_modality_png16),
    "u16": ("u16.gz", "application/octet-stream", render.render_modality_u16),
}


def form_keys(instance_id: int, sha256: str, frame: int, form: str) -> tuple[str, str]:
    """The data and meta keys of a frame's 16-bit form (also read by viewer.rendering.links)."""
    suffix = FORMS[form][0]
    stem = suffix.split(".")[0]
    return (
        key_for(instance_id, sha256, f"f{frame}.{suffix}"),
        key_for(instance_id, sha256, f"f{frame}.{stem}.json"),
    )


def modality16(instance: Instance, frame: int, form: str = "png") -> tuple[Result, dict]:
    """A 16-bit form of a frame and how to read it (offset, slope, intercept; rows and
    columns for u16), from the cache or made now and cached."""
    _suffix, media_type, make = FORMS[form]
    key, meta_key = form_keys(instance.pk, instance.sha256, frame, form)
    data, meta = _read(key), _read(meta_key)
    if data is not None and meta is not None:
        return Result(data, media_type, from_cache=True), json.loads(meta)
    try:
        made = make(load_dataset(instance), frame)
    except RenderError as exc:
        return Result(render.placeholder_image(exc.reason), "image/png", problem=exc.reason), {}
    meta_dict = _store_form(key, meta_key, made)
    return Result(made.data, media_type), meta_dict


def _store_form(key: str, meta_key: str, made: render.Modality16) -> dict:
    meta = {"offset": made.offset, "slope": made.slope, "intercept": made.intercept, **made.meta}
    _write(key, made.data)
    _write(meta_key, json.dumps(meta).encode())
    return meta


def representative(series: Series) -> Instance | None:
    """The middle instance: a CT's middle slice says more than its first."""
    instances = list(series.instances.order_by("instance_number", "id").only("pk"))
    if not instances:
        return None
    return Instance.objects.get(pk=instances[len(instances) // 2].pk)


def thumbnail(instance: Instance | None, media_type: str = "image/jpeg") -> Result:
    if instance is None:
        reason = "This series has no images."
        return Result(
            render.placeholder_image(reason, THUMBNAIL_SIZE, media_type), media_type, reason
        )
    options = RenderOptions(
        frame=(instance.number_of_frames or 1) // 2 if instance.number_of_frames > 1 else 0,
        viewport=THUMBNAIL_SIZE,
        quality=THUMBNAIL_OPTIONS.quality,
        media_type=media_type,
    )
    return rendered(instance, options)


def render_info(instance: Instance, ds: pydicom.Dataset | None = None) -> RenderInfo:
    """The instance's display information, read from its header once and kept."""
    existing = RenderInfo.objects.filter(instance=instance).first()
    if existing is not None and ds is None:
        return existing
    problem, info = "", {}
    try:
        info = render.display_info(ds if ds is not None else load_dataset(instance))
    except RenderError as exc:
        problem = exc.reason
    obj, _created = RenderInfo.objects.update_or_create(
        instance=instance, defaults={"info": info, "problem": problem}
    )
    return obj


def render_infos(instances: Iterable[Instance]) -> dict[int, RenderInfo]:
    """Display information for many instances: one query, headers read only for new ones."""
    instances = list(instances)
    found = {ri.pk: ri for ri in RenderInfo.objects.filter(instance__in=instances)}
    for instance in instances:
        if instance.pk not in found:
            found[instance.pk] = render_info(instance)
    return found


def build_for_instance(instance: Instance) -> int:
    """Fill the cache for one instance: every frame at the default window (JPEG) and the
    16-bit form the viewer windows (u16) where it has one. Returns the number of frames
    rendered. Idempotent."""
    try:
        ds = load_dataset(instance)
    except RenderError as exc:
        RenderInfo.objects.update_or_create(instance=instance, defaults={"problem": exc.reason})
        return 0
    info = render_info(instance, ds).info
    done = 0
    for frame in range(render.number_of_frames(ds)):
        options = RenderOptions(frame=frame)
        key = cache_key(instance, options.cache_name())
        if not default_storage.exists(key):
            try:
                _write(key, render.render_frame(ds, options))
            except RenderError:
                continue  # the reason is given when the frame is asked for
        if info.get("local_window"):
            key, meta_key = form_keys(instance.pk, instance.sha256, frame, "u16")
            if not default_storage.exists(key):
                try:
                    _store_form(key, meta_key, render.render_modality_u16(ds, frame))
                except RenderError:
                    continue
        done += 1
    RenderInfo.objects.filter(instance=instance).update(cached_at=now())
    return done


def build_for_instances(instance_ids: list[int]) -> None:
    """The Celery task's body: caches for freshly ingested instances and each series'
    thumbnail. Safe to run twice (existing renderings are skipped)."""
    instances = list(Instance.objects.filter(pk__in=instance_ids).select_related("series"))
    for instance in instances:
        build_for_instance(instance)
    for series in {instance.series for instance in instances}:
        middle = representative(series)
        # JPEG for DICOMweb clients; WebP is what browsers' Accept makes the series strip ask.
        for media_type in ("image/jpeg", "image/webp"):
            thumbnail(middle, media_type)

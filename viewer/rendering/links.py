"""Signed links to a study's cached frames: Django authorizes and audits once, the links do
the rest.

Opening a study (the viewer page, or a prior's manifest) is where Django checks that the user
may see it and writes the study-view audit row. The page then receives a *grant* for that
study: a token signed with Django's own signing (`django.core.signing`, salted), naming the
study, the user, a digest of the session it was issued to and the user's access generation
(`core.revocation`), and each cached instance's *key*: its id and content version with a
MAC over the study id, so a grant for one study opens no other study's frames. Frame links
are `/frames/<grant>/<key>/<frame>.jpg` (the default rendering, as the render worker caches
it) and `.u16` (the 16-bit form the viewer windows).

`FrameLinks`, mounted on that prefix in pedslink/asgi.py, answers such a link only when all
of these hold, with no database and no session decoding: the signature, the grant's age
(VIEWER_GRANT_SECONDS), the session cookie the browser sends is the one the grant was issued
to, the key's MAC, and the user's access generation is still the one in the grant (one cache
read: a change of hospital, role or active flag, a new password or a logout ends every
grant at once, as it ends remembered access answers). Then it sends the cached file, or hands
it to nginx (`X-Accel-Redirect`, FRAME_ACCEL_REDIRECT), or, with S3 storage, redirects the
JPEG to a presigned URL so the object store carries the load. Anything else (an expired or
foreign grant, another session, a frame not cached yet, a 16-bit frame on S3) goes on to
Django's view for the same URL (`frame_link`), which checks and audits as every image view
does and renders what is missing.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, default_storage
from django.http.cookie import parse_cookie
from django.utils.crypto import salted_hmac

from core.realtime import session_digest
from core.revocation import access_generation, access_generation_key
from pedslink.headers import response_headers
from viewer.rendering import cache as render_cache
from viewer.rendering.render import RenderOptions

SALT = "viewer.frame-links"
PREFIX = "/frames/"
LINK = re.compile(
    r"^/frames/(?P<grant>[A-Za-z0-9_\-:]{1,400})/(?P<key>(?P<id>\d{1,12})\.(?P<version>[0-9a-f]{12})"
    r"\.(?P<mac>[0-9a-f]{16}))/(?P<frame>\d{1,6})\.(?P<form>jpg|u16)$"
)
# Many frames of a study in one response (the viewer loads a series in a few requests):
# /frames/<grant>/batch/<key>_<frame>,<key>_<frame>,...(at most MAX_BATCH).jpg|u16
MAX_BATCH = 32
_PART = r"\d{1,12}\.[0-9a-f]{12}\.[0-9a-f]{16}_\d{1,6}"
BATCH = re.compile(
    rf"^/frames/(?P<grant>[A-Za-z0-9_\-:]{{1,400}})/batch/"
    rf"(?P<parts>(?:{_PART},){{0,{MAX_BATCH - 1}}}{_PART})\.(?P<form>jpg|u16)$"
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def grant_seconds() -> int:
    return int(getattr(settings, "VIEWER_GRANT_SECONDS", 900))


def grant_for(*, study_id: int, user_id: int, session_key: str) -> str:
    """A grant for one study, issued to this user's session (after the access check)."""
    payload = {
        "s": study_id,
        "u": user_id,
        "d": session_digest(session_key)[:32],
        "g": access_generation(user_id),
    }
    return signing.dumps(payload, salt=SALT)


def instance_key(study_id: int, instance_id: int, sha256: str) -> str:
    version = sha256[:12]
    return f"{instance_id}.{version}.{_mac(study_id, instance_id, version)}"


def _mac(study_id: int, instance_id: int, version: str) -> str:
    value = f"{study_id}/{instance_id}/{version}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:16]


@dataclass(frozen=True)
class Link:
    grant: str
    instance_id: int
    version: str
    mac: str
    frame: int  # 1-based, as in the URL
    form: str  # "jpg" or "u16"

    @property
    def key(self) -> str:
        return f"{self.instance_id}.{self.version}.{self.mac}"

    def key_is_for(self, study_id: int) -> bool:
        return hmac.compare_digest(self.mac, _mac(study_id, self.instance_id, self.version))

    def cache_keys(self) -> tuple[str, str | None]:
        """The render-cache keys of this frame: (data, meta or None)."""
        if self.form == "jpg":
            name = RenderOptions(frame=self.frame - 1).cache_name()
            return render_cache.key_for(self.instance_id, self.version, name), None
        return render_cache.form_keys(self.instance_id, self.version, self.frame - 1, "u16")


def parse(path: str) -> Link | None:
    m = LINK.match(path)
    if m is None or int(m["frame"]) < 1:
        return None
    return Link(m["grant"], int(m["id"]), m["version"], m["mac"], int(m["frame"]), m["form"])


def parse_batch(path: str) -> list[Link] | None:
    """The frames a batch link asks for, in order."""
    m = BATCH.match(path)
    if m is None:
        return None
    out = []
    for part in m["parts"].split(","):
        key, _sep, frame = part.partition("_")
        link = parse(f"{PREFIX}{m['grant']}/{key}/{frame}.{m['form']}")
        if link is None:
            return None
        out.append(link)
    return out


def batch_body(entries: list[tuple[dict, bytes]]) -> bytes:
    """A batch response: 4-byte big-endian length of a JSON index (one entry per frame, in
    the order asked), the index, then the frames back to back (viewer.study_views)."""
    head = json.dumps([entry for entry, _data in entries]).encode()
    return b"".join([len(head).to_bytes(4, "big"), head, *(data for _entry, data in entries)])


def grant_payload(grant: str, *, max_age: int | None) -> dict[str, Any] | None:
    """The grant's contents if its signature holds (and it is younger than max_age)."""
    try:
        payload = signing.loads(grant, salt=SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not {"s", "u", "d", "g"} <= payload.keys():
        return None
    return payload


def verified(link: Link, cookie_header: str) -> dict[str, Any] | None:
    """The grant, if this request may have the frame without asking Django."""
    payload = grant_payload(link.grant, max_age=grant_seconds())
    if payload is None or not link.key_is_for(payload["s"]):
        return None
    session_key = parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME, "")
    if not session_key or not hmac.compare_digest(
        session_digest(session_key)[:32], str(payload["d"])
    ):
        return None
    if cache.get(access_generation_key(payload["u"])) != payload["g"]:
        return None
    return payload


class FrameLinks:
    """ASGI app in front of Django for `/frames/...`: answers verified links to cached frames,
    passes everything else to `app` (Django)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(PREFIX)
            and not scope.get("query_string")
            and not scope.get("root_path")
        ):
            link = parse(scope["path"])
            batch = parse_batch(scope["path"]) if link is None else None
            if link is not None or batch:
                headers = _headers(scope)
                answer = _answer(link, headers) if link else _answer_batch(batch, headers)
                if answer is not None:
                    status, out, body = answer
                    out += response_headers(scope["path"], headers.get("sec-fetch-dest", ""))
                    out += [
                        ("Content-Length", str(len(body))),
                        ("Server-Timing", 'frame-link;desc="verified"'),
                    ]
                    if scope["method"] == "HEAD":
                        body = b""
                    await send(
                        {
                            "type": "http.response.start",
                            "status": status,
                            "headers": [
                                (k.lower().encode("latin-1"), str(v).encode("latin-1"))
                                for k, v in out
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}; {text}" if key == "cookie" and key in out else text
    return out


def _answer(link: Link, headers: dict[str, str]) -> tuple[int, list, bytes] | None:
    if verified(link, headers.get("cookie", "")) is None:
        return None
    key, meta_key = link.cache_keys()
    private = [("Cache-Control", "private, max-age=3600"), ("X-Render-Cache", "hit")]
    if not isinstance(default_storage, FileSystemStorage):
        # Object storage: the JPEG comes from a presigned URL; a 16-bit frame needs its
        # headers (rows, columns, rescale), which a redirect cannot carry: Django sends it.
        if link.form != "jpg":
            return None
        return 302, [("Location", default_storage.url(key)), *private], b""
    if link.form == "jpg":
        accel = getattr(settings, "FRAME_ACCEL_REDIRECT", "")
        if accel:
            if not default_storage.exists(key):
                return None
            return 200, [("Content-Type", "image/jpeg"), ("X-Accel-Redirect", accel + key)], b""
        data = _read(key)
        if data is None:
            return None
        return (
            200,
            [("Content-Type", "image/jpeg"), *private, ("Vary", "Accept-Language, Cookie")],
            data,
        )
    if "gzip" not in headers.get("accept-encoding", ""):
        return None  # Django inflates it
    data, meta = _read(key), _read(meta_key or "")
    if data is None or meta is None:
        return None
    extra = list(render_cache.modality16_headers(json.loads(meta)).items())
    return (
        200,
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-Encoding", "gzip"),
            *private,
            ("Vary", "Accept-Encoding, Accept-Language, Cookie"),
            *extra,
        ],
        data,
    )


def _answer_batch(links: list[Link], headers: dict[str, str]) -> tuple[int, list, bytes] | None:
    """Every frame verified and cached on local disk, or Django answers the whole batch."""
    payload = verified(links[0], headers.get("cookie", ""))
    if payload is None or not isinstance(default_storage, FileSystemStorage):
        return None
    entries = []
    for link in links:
        if not link.key_is_for(payload["s"]):
            return None
        key, meta_key = link.cache_keys()
        data = _read(key)
        meta = _read(meta_key) if meta_key else b"{}"
        if data is None or meta is None:
            return None
        entry = {"k": link.key, "frame": link.frame, "length": len(data), "problem": ""}
        entries.append(({**entry, **json.loads(meta)}, data))
    out = [
        ("Content-Type", "application/octet-stream"),
        ("Cache-Control", "private, max-age=3600"),
        ("Vary", "Accept-Language, Cookie"),
    ]
    return 200, out, batch_body(entries)


def _read(key: str) -> bytes | None:
    """A cached file, read in the event loop: tens of kilobytes from the page cache take
    microseconds, less than a hop to a thread."""
    try:
        with open(default_storage.path(key), "rb") as fh:  # noqa: ASYNC230, PTH123
            return fh.read()
    except OSError:
        return None

"""A fast path for cached images, in front of Django (wired in pedslink/asgi.py).

Scrolling a series asks for hundreds of images. Through Django each one costs the middleware
stack, a hop onto Django's one sync thread, a session, user, instance and access lookup and a
cache read, about 5 ms of CPU: a third of Orthanc's rate. This ASGI app answers GETs of images
that are already in the render cache with the same checks, in a few hundred microseconds
(also the viewer's batch of 16-bit frames, `.../series/<uid>/frames?kind=u16&frames=...`,
when every frame in it is cached; session only, as in Django):

- who: Django's database session (signed data, not expired, an active user whose session hash
  matches, the model backend) or a bearer integration token (not revoked, active account);
  a bearer header wins over the session on DICOMweb URLs, as in `viewer.auth`;
- may they see the study: the access selector's "yes" that Django remembers in Redis
  (`viewer.access.may_see_study`, VIEWER_ACCESS_CACHE_SECONDS), only while it carries the
  user's current access generation (`consult.revocation`);
- the audit: served here only while this user's study-view row for the current window has
  already been written (`viewer.access.audit_study_view`'s Redis key is present).

It only ever says yes. Anything else goes to Django unchanged, which answers and audits as
before: no or an unknown principal, a refusal or an access answer not remembered, the audit
row due, a session due its idle-timeout touch or a token due its last-used touch, a rendering
not cached yet, any query parameter, a frame number out of range, another database, session
engine, cache or storage, or any error here. So the fast path never changes who sees what or
which audit rows are written; it only skips work for the common case (the next image of a
series already opened). VIEWER_FAST_PATH=0 turns it off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare

from pedslink.proxy import FORWARDED_HEADERS, is_trusted

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UID = r"([^/]+)"  # Django's <str:...>
_INSTANCE = rf"/series/{_UID}/instances/{_UID}"
RENDERED = re.compile(rf"^/dicomweb/studies/{_UID}{_INSTANCE}(?:/frames/(\d{{1,6}}))?/rendered$")
MODALITY16 = re.compile(
    rf"^/viewer/studies/{_UID}{_INSTANCE}/frames/(\d{{1,6}})/modality\.(png|u16)$"
)
BATCH = re.compile(rf"^/viewer/studies/{_UID}/series/{_UID}/frames$")
BATCH_MAX = 32  # viewer.study_views.MAX_BATCH
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
AXES_BACKEND = "axes.backends.AxesStandaloneBackend"


@dataclass
class Route:
    kind: str  # "rendered" (DICOMweb: session or token), "png" or "u16" (viewer: session)
    study: str
    series: str
    instance: str
    frame: int  # 1-based, as in the URL


@dataclass
class BatchRoute:
    """viewer.study_views.series_frames_batch with kind=u16 (session only)."""

    study: str
    series: str
    frames: list[tuple[str, int]]  # (instance uid, 1-based frame), in the asked order


def match(path: str) -> Route | None:
    if m := RENDERED.match(path):
        return Route("rendered", m[1], m[2], m[3], int(m[4] or 1))
    if m := MODALITY16.match(path):
        return Route(m[5], m[1], m[2], m[3], int(m[4]))
    return None


def match_batch(path: str, query_string: bytes) -> BatchRoute | None:
    """Only `?kind=u16&frames=uid:n,...` exactly (any other query: Django)."""
    m = BATCH.match(path)
    if m is None:
        return None
    from urllib.parse import parse_qsl

    try:
        query = parse_qsl(query_string.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    if sorted(k for k, _v in query) != ["frames", "kind"] or dict(query)["kind"] != "u16":
        return None
    frames = []
    for part in dict(query)["frames"].split(","):
        uid, _sep, frame = part.rpartition(":")
        if not uid or not frame.isdigit() or len(frame) > 6:
            return None
        frames.append((uid, int(frame)))
    if not 1 <= len(frames) <= BATCH_MAX:
        return None
    return BatchRoute(m[1], m[2], frames)


def enabled() -> bool:
    """Only where the fast path reads exactly what Django reads."""
    cache = settings.CACHES["default"]
    return (
        getattr(settings, "VIEWER_FAST_PATH", True)
        and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        and settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
        and _session_backends() == [MODEL_BACKEND]
        and cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
        and isinstance(cache["LOCATION"], str)
        and "," not in cache["LOCATION"]
        and settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
        and not settings.DISALLOWED_USER_AGENTS  # CommonMiddleware's check, not repeated here
    )


def _session_backends() -> list[str]:
    """The backends that may restore a session's user: django-axes' backend only refuses
    logins (it has no get_user), so it changes nothing of what a session means here."""
    return [b for b in settings.AUTHENTICATION_BACKENDS if b != AXES_BACKEND]


class CachedImages:
    """ASGI middleware: cached rendered frames and 16-bit frames, else the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._on: bool | None = None
        self._backend: _Backend | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            route = match(scope["path"])
            if route is not None and scope.get("query_string"):
                route = None
            elif route is None and scope.get("query_string"):
                route = match_batch(scope["path"], scope["query_string"])
            if route is not None and self._is_on():
                started = time.perf_counter()
                headers = request_headers(scope)
                try:
                    answer = await self._answer(scope, route, headers)
                except Exception:  # noqa: BLE001 - Django answers whatever went wrong here
                    logger.warning("image fast path failed; Django answers", exc_info=True)
                    answer = None
                if answer is not None:
                    await _send(send, scope, headers, *answer, started)
                    return
        await self.app(scope, receive, send)

    def _is_on(self) -> bool:
        if self._on is None:
            self._on = enabled()
        return self._on

    async def _answer(
        self, scope: Scope, route: Route | BatchRoute, headers: dict[str, str]
    ) -> tuple[bytes, list] | None:
        host = headers.get("host", "")
        if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
            host = headers["x-forwarded-host"]  # what request.get_host() checks then
        if not _host_allowed(host) or needs_redirect(scope, headers):
            return None
        backend = await self._get_backend()
        if isinstance(route, BatchRoute):
            return await backend.answer_batch(route, headers)
        return await backend.answer(route, headers)

    async def _get_backend(self) -> _Backend:
        if self._backend is None:
            async with self._lock:
                if self._backend is None:
                    self._backend = await _Backend.open()
        return self._backend


def request_headers(scope: Scope) -> dict[str, str]:
    # As pedslink.proxy.ForwardedHeadersMiddleware: X-Forwarded-* only from a trusted proxy.
    trusted = is_trusted((scope.get("client") or ("",))[0])
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key in FORWARDED_HEADERS and not trusted:
            continue
        text = value.decode("latin-1")
        out[key] = f"{out[key]}; {text}" if key == "cookie" and key in out else text
    return out


def _host_allowed(host: str) -> bool:
    """Django's own Host check (request.get_host), else Django answers 400."""
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def is_secure(scope: Scope, headers: dict[str, str]) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, value = proxy
        wanted = name.removeprefix("HTTP_").replace("_", "-").lower()
        return headers.get(wanted, "").split(",")[0].strip() == value
    return False


def needs_redirect(scope: Scope, headers: dict[str, str]) -> bool:
    return settings.SECURE_SSL_REDIRECT and not is_secure(scope, headers)


class _Backend:
    """The process's PostgreSQL pool and Redis client, opened on first use in its loop."""

    def __init__(self, pool: Any, redis: Any) -> None:
        self.pool, self.redis = pool, redis
        from django.core.cache import cache

        self.make_key = cache.make_key
        self.sql = _Sql()

    @classmethod
    async def open(cls) -> _Backend:
        from psycopg.conninfo import make_conninfo
        from psycopg_pool import AsyncConnectionPool
        from redis.asyncio import Redis

        db = settings.DATABASES["default"]
        options = {k: v for k, v in db.get("OPTIONS", {}).items() if k != "pool"}
        conninfo = make_conninfo(
            "",
            dbname=db["NAME"],
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None,
            port=str(db["PORT"]) if db.get("PORT") else None,
            **options,
        )
        pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=int(getattr(settings, "VIEWER_FAST_PATH_DB_CONNECTIONS", 4)),
            kwargs={"autocommit": True},
            timeout=5,  # then Django answers (and meets the same trouble)
            open=False,
        )
        await pool.open()
        redis = Redis.from_url(
            settings.CACHES["default"]["LOCATION"], socket_timeout=2, socket_connect_timeout=2
        )
        return cls(pool, redis)

    async def answer(self, route: Route, headers: dict[str, str]) -> tuple[bytes, list] | None:
        from consult.revocation import access_generation_key
        from viewer import render_cache
        from viewer.access import may_see_key, study_view_key
        from viewer.render import DEFAULT_QUALITY, RenderOptions, negotiate

        async with self.pool.connection() as conn:
            found = await self._principal_and_instance(conn, route, headers)
        if found is None:
            return None
        user_id, (instance_id, sha256, frames, study_id) = found
        if not 1 <= route.frame <= (frames or 1):
            return None  # Django answers 400
        may, viewed, generation = await self.redis.mget(
            self.make_key(may_see_key(user_id, study_id)),
            self.make_key(study_view_key(user_id, study_id)),
            self.make_key(access_generation_key(user_id)),
        )
        if may is None or may != generation or viewed is None:
            return None  # Django asks the selector, or writes the audit row that is due
        if route.kind == "rendered":
            media_type = negotiate(headers.get("accept", ""))
            if media_type is None:
                return None
            name = RenderOptions(
                frame=route.frame - 1, media_type=media_type, quality=DEFAULT_QUALITY
            ).cache_name()
            data = _read(render_cache.key_for(instance_id, sha256, name))
            return None if data is None else (data, _image_headers(media_type))
        gzipped = route.kind == "u16"
        if gzipped and "gzip" not in headers.get("accept-encoding", ""):
            return None
        key, meta_key = render_cache.form_keys(instance_id, sha256, route.frame - 1, route.kind)
        data, meta = _read(key), _read(meta_key)
        if data is None or meta is None:
            return None
        media_type = render_cache.FORMS[route.kind][1]
        extra = list(render_cache.modality16_headers(json.loads(meta)).items())
        if gzipped:
            extra.append(("Content-Encoding", "gzip"))
        return data, _image_headers(media_type, vary_encoding=gzipped) + extra

    async def answer_batch(
        self, route: BatchRoute, headers: dict[str, str]
    ) -> tuple[bytes, list] | None:
        """The batch body Django builds, when every frame is there and cached."""
        from consult.revocation import access_generation_key
        from viewer import render_cache
        from viewer.access import may_see_key, study_view_key

        async with self.pool.connection() as conn:
            user_id = await self._session_principal(conn, headers)
            if user_id is None:
                return None
            cursor = await conn.execute(
                self.sql.series_instances,
                (sorted({uid for uid, _f in route.frames}), route.series, route.study),
            )
            rows = {row[0]: row[1:] for row in await cursor.fetchall()}
        studies = {row[3] for row in rows.values()}
        if len(studies) != 1:
            return None  # nothing found (Django answers 404 or the problems)
        study_id = studies.pop()
        may, viewed, generation = await self.redis.mget(
            self.make_key(may_see_key(user_id, study_id)),
            self.make_key(study_view_key(user_id, study_id)),
            self.make_key(access_generation_key(user_id)),
        )
        if may is None or may != generation or viewed is None:
            return None
        index, blobs = [], []
        for uid, frame in route.frames:
            if uid not in rows:
                return None  # Django reports the missing frame
            instance_id, sha256, frames, _study = rows[uid]
            if not 1 <= frame <= (frames or 1):
                return None
            key, meta_key = render_cache.form_keys(instance_id, sha256, frame - 1, "u16")
            data, meta = _read(key), _read(meta_key)
            if data is None or meta is None:
                return None  # Django renders and caches it
            index.append(
                {"uid": uid, "frame": frame, "length": len(data), "problem": "", **json.loads(meta)}
            )
            blobs.append(data)
        head = json.dumps(index).encode()
        body = b"".join([len(head).to_bytes(4, "big"), head, *blobs])
        return body, _image_headers("application/octet-stream")

    async def _session(self, conn: Any, headers: dict[str, str]) -> tuple[int, str] | None:
        """The session's user id and auth hash, as django.contrib.auth.get_user reads them."""
        key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
        if not key:
            return None
        row = await _one(conn, self.sql.session, (key, dt.datetime.now(dt.UTC)))
        if row is None:
            return None
        user_id, session_hash = _session_user(row[0])
        return None if user_id is None else (user_id, session_hash)

    async def _session_principal(self, conn: Any, headers: dict[str, str]) -> int | None:
        """The session's user, checked as in _principal_and_instance (active, hash)."""
        session = await self._session(conn, headers)
        if session is None:
            return None
        user_id, session_hash = session
        row = await _one(conn, self.sql.user, (user_id,))
        if row is None or not row[1]:
            return None
        if not _hash_matches(user_id, row[0], session_hash):
            return None
        return user_id

    async def _principal_and_instance(
        self, conn: Any, route: Route, headers: dict[str, str]
    ) -> tuple[int, tuple] | None:
        uids = (route.instance, route.series, route.study)
        authorization = headers.get("authorization", "")
        scheme, _sep, secret = authorization.partition(" ")
        if route.kind == "rendered" and scheme.lower() == "bearer" and secret.strip():
            return await self._token(conn, secret.strip(), uids)
        session = await self._session(conn, headers)
        if session is None:
            return None
        user_id, session_hash = session
        row = await _one(conn, self.sql.user_instance, (*uids, user_id))
        if row is None or not row[1] or row[2] is None:
            return None
        if not _hash_matches(user_id, row[0], session_hash):
            return None  # Django checks its fallback keys or ends the session
        return user_id, tuple(row[2:])

    async def _token(self, conn: Any, secret: str, uids: tuple) -> tuple[int, tuple] | None:
        from viewer.auth import TOUCH_EVERY
        from viewer.services import token_digest

        row = await _one(conn, self.sql.token_instance, (*uids, token_digest(secret)))
        if row is None or not row[2] or row[3] is None:
            return None
        user_id, last_used = row[0], row[1]
        if last_used is None or dt.datetime.now(dt.UTC) - last_used > TOUCH_EVERY:
            return None  # Django records the use
        return user_id, tuple(row[3:])


async def _one(conn: Any, query: str, params: tuple) -> tuple | None:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone()


class _Sql:
    """The statements, with table and column names taken from the models."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.sessions.models import Session

        from viewer.models import Instance, IntegrationToken, Series, Study

        user = get_user_model()._meta
        inst, ser, stu = Instance._meta, Series._meta, Study._meta
        tok, ses = IntegrationToken._meta, Session._meta

        def col(meta: Any, name: str) -> str:
            return f'"{meta.get_field(name).column}"'

        # Names come from the models; every value is a query parameter.
        self.session = (
            f'SELECT {col(ses, "session_data")} FROM "{ses.db_table}" '  # noqa: S608
            f"WHERE {col(ses, 'session_key')} = %s AND {col(ses, 'expire_date')} > %s"
        )
        instance = (
            f"SELECT i.{col(inst, 'id')}, i.{col(inst, 'sha256')}, "  # noqa: S608
            f"i.{col(inst, 'number_of_frames')}, se.{col(ser, 'study')} "
            f'FROM "{inst.db_table}" i '
            f'JOIN "{ser.db_table}" se ON se.{col(ser, "id")} = i.{col(inst, "series")} '
            f'JOIN "{stu.db_table}" st ON st.{col(stu, "id")} = se.{col(ser, "study")} '
            f"WHERE i.{col(inst, 'sop_instance_uid')} = %s "
            f"AND se.{col(ser, 'series_instance_uid')} = %s "
            f"AND st.{col(stu, 'study_instance_uid')} = %s"
        )
        self.user = (
            f"SELECT {col(user, 'password')}, {col(user, 'is_active')} "  # noqa: S608
            f'FROM "{user.db_table}" WHERE {col(user, "id")} = %s'
        )
        self.series_instances = (
            f"SELECT i.{col(inst, 'sop_instance_uid')}, i.{col(inst, 'id')}, "  # noqa: S608
            f"i.{col(inst, 'sha256')}, i.{col(inst, 'number_of_frames')}, "
            f"se.{col(ser, 'study')} "
            f'FROM "{inst.db_table}" i '
            f'JOIN "{ser.db_table}" se ON se.{col(ser, "id")} = i.{col(inst, "series")} '
            f'JOIN "{stu.db_table}" st ON st.{col(stu, "id")} = se.{col(ser, "study")} '
            f"WHERE i.{col(inst, 'sop_instance_uid')} = ANY(%s) "
            f"AND se.{col(ser, 'series_instance_uid')} = %s "
            f"AND st.{col(stu, 'study_instance_uid')} = %s"
        )
        self.user_instance = (
            f"SELECT u.{col(user, 'password')}, u.{col(user, 'is_active')}, x.* "  # noqa: S608
            f"FROM (SELECT 1) one LEFT JOIN ({instance}) x ON TRUE "
            f'JOIN "{user.db_table}" u ON u.{col(user, "id")} = %s'
        )
        self.token_instance = (
            f"SELECT t.{col(tok, 'account')}, t.{col(tok, 'last_used_at')}, "  # noqa: S608
            f"u.{col(user, 'is_active')}, x.* "
            f"FROM (SELECT 1) one LEFT JOIN ({instance}) x ON TRUE "
            f'JOIN "{tok.db_table}" t ON t.{col(tok, "token_hash")} = %s '
            f"AND t.{col(tok, 'revoked_at')} IS NULL "
            f'JOIN "{user.db_table}" u ON u.{col(user, "id")} = t.{col(tok, "account")}'
        )


def _session_user(session_data: str) -> tuple[int | None, str]:
    """The signed-in user of a session, as django.contrib.auth.get_user reads it; None when
    there is none, another backend signed it in, or the idle-timeout touch is due."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    data = SessionStore().decode(session_data)
    if SESSION_KEY not in data or data.get(BACKEND_SESSION_KEY) != MODEL_BACKEND:
        return None, ""
    if time.time() - data.get("_touched", 0) >= settings.SESSION_TOUCH_SECONDS:
        return None, ""  # consult.middleware.SessionIdleMiddleware pushes the expiry forward
    try:
        user_id = get_user_model()._meta.pk.to_python(data[SESSION_KEY])
    except Exception:  # noqa: BLE001 - Django makes the same mistake anonymous
        return None, ""
    return user_id, data.get(HASH_SESSION_KEY) or ""


def _hash_matches(user_id: int, password: str, session_hash: str) -> bool:
    from django.contrib.auth import get_user_model

    expected = get_user_model()(pk=user_id, password=password).get_session_auth_hash()
    return bool(session_hash) and constant_time_compare(session_hash, expected)


def _read(key: str) -> bytes | None:
    """A render-cache file. Read in the loop: tens of kilobytes from the page cache take
    microseconds, less than a hop to a thread would."""
    from django.core.files.storage import default_storage

    try:
        with open(default_storage.path(key), "rb") as fh:  # noqa: ASYNC230, PTH123
            return fh.read()
    except OSError:
        return None


def _image_headers(media_type: str, vary_encoding: bool = False) -> list[tuple[str, str]]:
    """What viewer.render_views.image_response (and the middleware) send for a cached image."""
    vary = (
        "Accept-Encoding, Accept-Language, Cookie" if vary_encoding else "Accept-Language, Cookie"
    )
    return [
        ("Content-Type", media_type),
        ("Cache-Control", "private, max-age=3600"),
        ("X-Render-Cache", "hit"),
        ("Vary", vary),
    ]


def security_headers(scope: Scope, headers: dict[str, str]) -> list[tuple[str, str]]:
    """What Django's SecurityMiddleware and pedslink.headers add to every response."""
    from pedslink.headers import response_headers

    out = response_headers(scope["path"], headers.get("sec-fetch-dest", ""))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        out.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    coop = getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin")
    if coop:
        out.append(("Cross-Origin-Opener-Policy", coop))
    if settings.SECURE_HSTS_SECONDS and is_secure(scope, headers):
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        out.append(("Strict-Transport-Security", hsts))
    return out


def _middleware_headers(scope: Scope, headers: dict[str, str]) -> list[tuple[str, str]]:
    """SecurityMiddleware's, XFrameOptionsMiddleware's and our RequestIdMiddleware's."""
    from consult.middleware import request_id

    return [
        *security_headers(scope, headers),
        ("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY")),
        ("X-Request-ID", request_id(headers.get("x-request-id", ""))),
    ]


async def _send(
    send: Send,
    scope: Scope,
    request_headers: dict[str, str],
    body: bytes,
    headers: list,
    started: float,
) -> None:
    spent = (time.perf_counter() - started) * 1000
    all_headers = [
        *headers,
        ("Content-Length", str(len(body))),
        *_middleware_headers(scope, request_headers),
        ("Server-Timing", f'fastpath;dur={spent:.2f};desc="cached image"'),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in all_headers],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""Static files answered in front of Django, by WhiteNoise's own lookup (wired in asgi.py).

Under ASGI, WhiteNoise runs as Django middleware: each CSS or JS file costs a hop onto
Django's one sync thread per process, and then one more hop per 4 KB chunk of the file.
A page such as the viewer asks for nine of them at once, so they queue behind each other and
behind the page's own requests, and the browser's first image waited for them. Here the same
WhiteNoise object (same settings: finders and autorefresh in development, the collected and
compressed files in production) finds the file and builds the response; only the sending is
done in the event loop. The headers are WhiteNoise's plus those of Django's
SecurityMiddleware and pedslink.headers, the only middleware in front of WhiteNoise. Anything
else (not a static file, not GET/HEAD, an HTTPS redirect due) goes to Django as before.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from viewer.fastpath import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    needs_redirect,
    request_headers,
    security_headers,
)

logger = logging.getLogger(__name__)


class StaticFiles:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._whitenoise: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(settings.STATIC_URL)
            and not scope.get("root_path")
        ):
            headers = request_headers(scope)
            found = None if needs_redirect(scope, headers) else self._find(scope["path"])
            if found is not None:
                await self._serve(found, scope, headers, send)
                return
        await self.app(scope, receive, send)

    def _find(self, path: str) -> Any:
        if self._whitenoise is None:
            from whitenoise.middleware import WhiteNoiseMiddleware

            self._whitenoise = WhiteNoiseMiddleware()
        wn = self._whitenoise
        return wn.find_file(path) if wn.autorefresh else wn.files.get(path)

    async def _serve(self, found: Any, scope: Scope, headers: dict[str, str], send: Send) -> None:
        environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        response = found.get_response(scope["method"], environ)
        body = b""
        if response.file is not None:
            try:
                body = response.file.read()  # noqa: ASYNC230 - small files, page cache
            finally:
                response.file.close()
        out = [(k, v) for k, v in response.headers]
        out += security_headers(scope, headers)
        await send(
            {
                "type": "http.response.start",
                "status": int(response.status),
                "headers": [
                    (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in out
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

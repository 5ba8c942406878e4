import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id(incoming: str) -> str:
    """The proxy's X-Request-ID if sane, else a new one (also stamped on signed frame links)."""
    return incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id (the proxy's X-Request-ID if sane) for logs and audit rows."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = request_id(incoming)  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


class SessionIdleMiddleware:
    """Idle timeout without a session write on every request.

    The session expires SESSION_COOKIE_AGE after its last save; saving it on every request
    (SESSION_SAVE_EVERY_REQUEST) costs a database write per image the viewer loads. Here a
    signed-in session is saved at most once per SESSION_TOUCH_SECONDS, so the idle timeout
    is exact to within that interval.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.session_key and "_auth_user_id" in session:
            now = int(time.time())
            if now - session.get("_touched", 0) >= settings.SESSION_TOUCH_SECONDS:
                session["_touched"] = now  # marks the session modified: SessionMiddleware saves
        return response

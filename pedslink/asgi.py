"""ASGI entry point. HTTP goes through Django: DICOMweb requests with a bearer token through
Django's handler with the DICOMweb middleware list (pedslink/handlers.py), signed links to
cached frames past a verifier that answers them from the render cache when the link holds
(viewer/rendering/links.py), everything else through the full middleware stack. Websockets go
through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pedslink.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from pedslink.handlers import DicomwebHandler, bearer  # noqa: E402
from pedslink.routing import websocket_urlpatterns  # noqa: E402
from viewer.rendering.links import FrameLinks  # noqa: E402

dicomweb_app = DicomwebHandler()
frames_app = FrameLinks(django_asgi_app)


async def http(scope, receive, send):  # noqa: ANN001, ANN201 - the ASGI signature
    path = scope["path"]
    if path.startswith("/frames/"):
        await frames_app(scope, receive, send)
    elif path.startswith("/dicomweb/") and bearer(scope):
        await dicomweb_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

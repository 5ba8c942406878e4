"""ASGI entry point: HTTP through Django (static files and cached images are answered in
front of it: pedslink/static.py, viewer/fastpath.py), websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pedslink.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from pedslink.routing import websocket_urlpatterns  # noqa: E402
from pedslink.static import StaticFiles  # noqa: E402
from viewer.fastpath import CachedImages  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": StaticFiles(CachedImages(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

"""ASGI entry point: HTTP through Django (static files, cached images and bearer-token STOW-RS
are answered in front of its middleware: pedslink/static.py, viewer/fastpath.py,
viewer/stow_fastpath.py), websockets through Channels."""

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
from viewer.stow_fastpath import BearerStow  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": StaticFiles(CachedImages(BearerStow(django_asgi_app, django_asgi_app))),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

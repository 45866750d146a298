"""HTTP and websockets on one port, served by daphne.

Websockets: the origin must be an allowed host; the user comes from the session cookie, or from a single-use
`?ticket=` (realtime/tickets.py) for programs holding an API token."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.tickets import TicketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(TicketAuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)

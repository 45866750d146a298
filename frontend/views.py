"""The web UI: one page (frontend/web/dist/index.html, built by Vite) for every path the app routes itself."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>Web UI not built</title>
<p>网页界面尚未构建：请运行 <code>make frontend</code>（或 <code>make run</code>）。</p>
<p>The web UI is not built: run <code>make frontend</code> (or <code>make run</code>).
The API is at <a href="/api/">/api/</a>, its documentation at <a href="/api/docs/">/api/docs/</a>.</p></html>
"""


@method_decorator([never_cache, ensure_csrf_cookie], name="get")
class AppView(View):
    """index.html as Vite built it (asset URLs under STATIC_URL/web/), read on each request so that a rebuild
    needs no restart; never cached, so that a new build's hashed assets are picked up. It sets the CSRF cookie
    the app sends back on unsafe requests."""

    def get(self, request, path=""):
        index = settings.WEB_UI_DIR / "index.html"
        try:
            content = index.read_bytes()
        except FileNotFoundError:
            return HttpResponse(NOT_BUILT, status=503)
        return HttpResponse(content, content_type="text/html; charset=utf-8")

"""The browser against daphne in the test process: the app's page over HTTP and a websocket to a room, refused to an
anonymous visitor with the room's close code (realtime/consumers.py: 4401)."""


def test_the_app_and_its_websockets_over_daphne(asgi_live_server, page, screenshot):
    page.goto(asgi_live_server.url + "/")
    page.locator("[data-test=brand]").wait_for()
    code = page.evaluate(
        """(url) => new Promise((resolve) => {
            const socket = new WebSocket(url);
            socket.onclose = (event) => resolve(event.code);
        })""",
        asgi_live_server.url.replace("http", "ws") + "/ws/opening/1/",
    )
    assert code == 4401
    screenshot(page, "portal-over-daphne")

import pytest

from bidding.receipts import platform_private_key
from tests.evaluation import kit as evaluation_kit
from tests.trading.regional.kit import InProcessReceiver, Proxy


@pytest.fixture
def tree(db):
    return evaluation_kit.specialties()


@pytest.fixture
def receiver(tmp_path, settings):
    """The reference receiver on a thread, knowing this centre's key; REGIONAL_URL points at it."""
    server = InProcessReceiver(tmp_path / "regional.sqlite3", {settings.CENTRE_CODE: platform_private_key().public_key()})
    settings.REGIONAL_URL = server.url
    yield server
    server.close()


@pytest.fixture
def proxy(receiver, settings):
    """A proxy in front of the receiver that can lose or cut answers; REGIONAL_URL points at the proxy."""
    front = Proxy(receiver.server.server_address[1])
    settings.REGIONAL_URL = front.url
    yield front
    front.close()

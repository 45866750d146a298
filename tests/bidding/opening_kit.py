"""Shared builders for the opening tests (tests/bidding/test_opening*.py): a lot with sealed bids at its opening."""

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import time_machine
from rest_framework.test import APIClient

from audit.models import AuditEvent
from bidding import envelope
from bidding.client import Uploader
from bidding.models import Bid, Opening, OpeningResponse, OpeningSignIn, RescueKey, RescueShare
from tests import factories
from trading import services
from trading.objectstore import get_store
from trading.rules import LOCAL

ISSUED = datetime(2026, 11, 2, 9, tzinfo=LOCAL)
DURING = datetime(2026, 11, 4, 10, tzinfo=LOCAL)
MARKER = "MARKER-开标明文-4711"
CHUNK = 65536


def client(user) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def transport(user):
    return factories.api_transport(client(user))


@dataclass
class Opened:
    """A lot at its opening: the bidders' kits, their sealed files, plaintexts and receipts, by username."""

    lot: object
    kits: list
    sealed: dict = field(default_factory=dict)
    plain: dict = field(default_factory=dict)
    receipts: dict = field(default_factory=dict)

    @property
    def opening(self) -> Opening:
        return Opening.objects.get(lot=self.lot)

    @property
    def open_at(self) -> datetime:
        return self.lot.bid_deadline + timedelta(minutes=5)

    def bid(self, kit) -> Bid:
        return Bid.objects.get(pk=self.receipts[kit.user.username]["bid"])

    def data_key(self, kit) -> bytes:
        with open(self.sealed[kit.user.username], "rb") as f:
            header = envelope.read_header(f.read)
        return envelope.unwrap_key(
            header, kit.private_key, lot=self.lot.transaction_code, bidder=kit.user.organisation.credit_code
        )


def submit(kit, lot, folder: Path, plaintext: bytes, *, tamper=None, **seal_kw) -> tuple[dict, Path]:
    """Enrols if needed, seals (optionally spoils the sealed file before upload) and uploads through the client."""
    from bidding import services as bidding

    if not bidding.is_enrolled(lot=lot, org_id=kit.user.organisation_id):
        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="联系人", contact_phone="13800000000")
    path = factories.seal_bid(kit, lot, folder / f"{kit.user.username}.sealed", plaintext, **seal_kw)
    if tamper is not None:
        path.write_bytes(tamper(path.read_bytes()))
    return Uploader(transport(kit.user)).upload(lot.pk, path), path


def open_lot(parties, folder: Path, *, count: int = 3, lot=None, seal_kw=None, tamper=None, extra=None) -> Opened:
    """`count` bidders (bidder1..) seal and submit; the sweep at the deadline starts the opening.
    seal_kw/tamper/extra: per username, for the sealing options, spoiling the file and padding the bid."""
    lot = lot or factories.lot(parties, stage="published", issued=ISSUED)
    kits = [factories.bidder_kit(bidder, ISSUED) for bidder in parties.bidders[:count]]
    opened = Opened(lot=lot, kits=kits)
    with time_machine.travel(DURING, tick=False):
        for number, kit in enumerate(kits, start=1):
            name = kit.user.username
            plaintext = factories.bid_package(f"{900000 + number}.00", marker=MARKER, extra=(extra or {}).get(name, b""))
            receipt, path = submit(kit, lot, folder, plaintext, tamper=(tamper or {}).get(name), **(seal_kw or {}).get(name, {}))
            opened.sealed[name], opened.plain[name], opened.receipts[name] = path, plaintext, receipt
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == "opening"
    return opened


def stored(key: str) -> bytes:
    return b"".join(get_store().iter_chunks(key))


def overwrite(key: str, data: bytes) -> None:
    """Changes a stored object behind the platform's back, through the S3 client (as a faulty disk or intruder would)."""
    store = get_store()
    store.client.put_object(store.bucket, key, io.BytesIO(data), len(data))


def opened_objects() -> set[str]:
    store = get_store()
    return {o.object_name for o in store.client.list_objects(store.bucket, prefix="opened/", recursive=True)}


def state() -> dict:
    """Everything an opening action may change: to assert that a refused one changed nothing."""
    return {
        "bids": list(Bid.objects.order_by("pk").values()),
        "openings": list(Opening.objects.order_by("pk").values()),
        "sign_ins": list(OpeningSignIn.objects.order_by("pk").values()),
        "responses": list(OpeningResponse.objects.order_by("pk").values()),
        "rescue_keys": list(RescueKey.objects.order_by("pk").values()),
        "rescue_shares": list(RescueShare.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
        "opened": opened_objects(),
    }


def sign_in(opened: Opened, *kits) -> None:
    for kit in kits or opened.kits:
        response = client(kit.user).post(f"/api/lots/{opened.lot.pk}/opening/sign-in/")
        assert response.status_code in (200, 201), response.json()


def decrypt(opened: Opened, kit, data_key: bytes | None = None):
    import base64

    key = opened.data_key(kit) if data_key is None else data_key
    return client(kit.user).post(
        f"/api/bids/{opened.receipts[kit.user.username]['bid']}/decrypt/",
        {"data_key": base64.b64encode(key).decode()},
        format="json",
    )

"""Builders for tests: parties of every role and lots driven to a given stage through the real services."""

import functools
import io
import itertools
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password

from trading import rules, services
from trading.codes import credit_code_check_char
from trading.models import Lot, Organisation, Role, RuleSet, User

_serial = itertools.count(1)
PASSWORD = "correct-horse-battery-9"


def credit_code() -> str:
    first17 = f"91450102{next(_serial):09d}"
    return first17 + credit_code_check_char(first17)


def org(kind: str, name: str | None = None) -> Organisation:
    code = credit_code()
    return Organisation.objects.create(name=name or f"{kind}-{code[-6:]}", credit_code=code, kind=kind, region_code="450102")


@functools.cache
def _password_hash(hasher: str) -> str:
    # One real hash per hasher shared by every test user: Argon2 costs ~0.3 s by design.
    return make_password(PASSWORD)


def user(role: str, organisation: Organisation | None = None, username: str | None = None, **extra) -> User:
    username = username or f"{role}-{next(_serial)}"
    return User.objects.create(
        username=username, password=_password_hash(settings.PASSWORD_HASHERS[0]), role=role, organisation=organisation, **extra
    )


def rule_set() -> RuleSet:
    return RuleSet.objects.get_or_create(code="construction", defaults={"name": "工程建设项目招标"})[0]


def at(day, hour=9, minute=30) -> datetime:
    """A local (Asia/Shanghai) moment."""
    return datetime.combine(day, time(hour, minute), tzinfo=rules.LOCAL)


@dataclass
class Parties:
    staff: User
    supervisor: User
    tenderee: User
    agency: User
    other_tenderee: User
    expert: User
    admin: User
    bidders: list[User] = field(default_factory=list)

    @classmethod
    def create(cls) -> "Parties":
        centre = org("centre", "交易中心")
        tenderee_org = org("tenderee", "某县城投公司")
        agency_org = org("agency", "某招标代理公司")
        parties = cls(
            staff=user(Role.STAFF, centre, "staff"),
            supervisor=user(Role.SUPERVISOR, org("supervisor", "发改局"), "supervisor"),
            tenderee=user(Role.TENDEREE, tenderee_org, "tenderee"),
            agency=user(Role.AGENCY, agency_org, "agency"),
            other_tenderee=user(Role.TENDEREE, org("tenderee", "另一招标人"), "other-tenderee"),
            expert=user(Role.EXPERT, org("other", "专家单位"), "expert"),
            admin=user(Role.STAFF, centre, "admin", is_staff=True, is_superuser=True),
        )
        parties.bidders = [user(Role.BIDDER, org("bidder", f"投标公司{i}"), f"bidder{i}") for i in range(1, 5)]
        return parties

    def every_role(self, include_anonymous=True):
        """(label, user) for every role, the superuser and anonymous."""
        people = [
            ("staff", self.staff),
            ("supervisor", self.supervisor),
            ("tenderee", self.tenderee),
            ("agency", self.agency),
            ("other_tenderee", self.other_tenderee),
            ("expert", self.expert),
            ("admin", self.admin),
            *[(f"bidder{i}", b) for i, b in enumerate(self.bidders, start=1)],
        ]
        return [*people, ("anonymous", None)] if include_anonymous else people


def document(lot: Lot, actor: User, now: datetime, content: bytes = b"tender documents v1") -> "object":
    return services.document_upload(
        lot=lot,
        actor=actor,
        filename="招标文件.pdf",
        stream=io.BytesIO(content),
        size=len(content),
        content_type="application/pdf",
        now=now,
    )


def lot(
    parties: Parties,
    *,
    stage: str = "draft",
    issued: datetime | None = None,
    sale_days: int = 7,
    deadline_days: int = 21,
    max_price: Decimal | None = None,
) -> Lot:
    """A lot driven through the services up to `stage`: draft, registered, filed, published.

    `issued` is when the documents are (to be) issued; filing happens a day before.
    The deadline is `deadline_days` after issue at 09:30 local, moved to a working day.
    """
    issued = issued or at(datetime(2026, 11, 2).date())  # a Monday
    t0 = issued - timedelta(days=3)
    project = services.project_create(
        actor=parties.tenderee, code=f"P-{next(_serial)}", name="测试项目", rule_set=rule_set(), region_code="450102", now=t0
    )
    new = services.lot_create(
        actor=parties.tenderee,
        project=project,
        name="一标段",
        estimated_price=Decimal("1000000"),
        bond_amount=Decimal("20000"),
        max_price=max_price,
        now=t0,
    )
    if stage == "draft":
        return new
    review = services.registration_submit(project=project, actor=parties.tenderee, now=t0)
    services.registration_decide(review=review, actor=parties.staff, accept=True, now=t0)
    new.refresh_from_db()
    if stage == "registered":
        return new
    filed_at = issued - timedelta(days=1)
    document(new, parties.tenderee, filed_at)
    deadline = at(rules.next_working_day(rules.local_date(issued) + timedelta(days=deadline_days)))
    sale_end = at(rules.local_date(issued) + timedelta(days=sale_days), 17, 0)
    review = services.filing_submit(lot=new, actor=parties.tenderee, docs_sale_end=sale_end, bid_deadline=deadline, now=filed_at)
    services.filing_decide(review=review, actor=parties.staff, accept=True, now=filed_at)
    new.refresh_from_db()
    if stage == "filed":
        return new
    new, _ = services.lot_publish(lot=new, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=issued)
    if stage == "published":
        return new
    raise ValueError(stage)


# --- Sealed bids ---------------------------------------------------------------------------------------


def api_transport(client):
    """bidding.client's transport over a test APIClient: the client program, minus the network."""
    import json

    def call(method, path, *, json_body=None, data=None, headers=None):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        if json_body is not None:
            response = client.generic(method, path, json.dumps(json_body), content_type="application/json", **extra)
        else:
            response = client.generic(method, path, data or b"", content_type="application/octet-stream", **extra)
        body = response.json() if response.content and response["Content-Type"].startswith("application/json") else None
        return response.status_code, body

    return call


def bid_package(price: str, *, marker: str = "", extra: bytes = b"") -> bytes:
    """A bid file: a ZIP with the opening summary (opening.json) and the bid documents."""
    import json
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(
            "opening.json", json.dumps({"price": price, "duration_days": 365, "quality": "合格"}, ensure_ascii=False)
        )
        archive.writestr("投标文件.txt", f"投标函 {marker}".encode() + extra)
    return buffer.getvalue()


@dataclass(eq=False)
class BidderKit:
    user: User
    private_key: object
    public_key: bytes


def bidder_kit(bidder: User, now: datetime) -> BidderKit:
    from bidding import envelope
    from bidding.services import bids

    private_key, spki = envelope.generate_key_pair()
    bids.bidder_key_register(actor=bidder, public_key=spki, expires_at=now + timedelta(days=365), now=now)
    return BidderKit(bidder, private_key, spki)


def seal_bid(kit: BidderKit, lot: Lot, path, plaintext: bytes, **kw):
    from bidding import envelope

    source = path.with_suffix(".zip")
    source.write_bytes(plaintext)
    envelope.seal_file(
        source, path, lot=lot.transaction_code, bidder=kit.user.organisation.credit_code, bidder_public_key=kit.public_key, **kw
    )
    return path


def submit_bid(kit: BidderKit, lot: Lot, tmp_path, *, price: str = "980000.00", marker: str = "", extra: bytes = b""):
    """Enrols if needed, seals and uploads a bid through the client and the HTTP API; returns the receipt."""
    from rest_framework.test import APIClient

    from bidding import services as bidding
    from bidding.client import Uploader

    if not bidding.is_enrolled(lot=lot, org_id=kit.user.organisation_id):
        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="联系人", contact_phone="13800000000")
    sealed = seal_bid(kit, lot, tmp_path / f"{kit.user.username}.sealed", bid_package(price, marker=marker, extra=extra))
    client = APIClient()
    client.force_authenticate(kit.user)
    return Uploader(api_transport(client)).upload(lot.pk, sealed)


def enough_bids(parties: Parties, lot: Lot, *, count: int = 3, when: datetime | None = None) -> list[dict]:
    """`count` bidders (from the last one backwards) enrol and submit sealed bids during the document period,
    so that the lot opens at its deadline instead of failing (条例44)."""
    import tempfile
    from pathlib import Path

    import time_machine

    when = when or lot.docs_issued_at + timedelta(hours=1)
    receipts = []
    with tempfile.TemporaryDirectory() as folder, time_machine.travel(when, tick=False):
        for bidder in parties.bidders[::-1][:count]:
            receipts.append(submit_bid(bidder_kit(bidder, when), lot, Path(folder), price=f"{900000 + len(receipts)}.00"))
    return receipts


def finish_opening(parties: Parties, lot: Lot, when: datetime | None = None) -> None:
    """Lets the decryption window run out (bids nobody decrypted are revoked) and publishes the record,
    so that evaluation may start."""
    import time_machine

    from bidding.models import Opening
    from bidding.services import opening

    window_end = Opening.objects.get(lot=lot).decryption_deadline
    with time_machine.travel(when or window_end + timedelta(seconds=1), tick=False):
        services.sweep_deadlines()
        opening.opening_publish_record(lot=lot, actor=parties.staff)

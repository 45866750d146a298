"""The benchmark's steps inside Django, run by bench/bids.py as `python -m bench.stage STEP ...` in a subprocess
with the same environment as the API server (same SQLite file, same S3 endpoint).

    seed OUT.json LOTS BIDDERS   parties, LOTS lots published a day ago (deadline in 21 days, real clock), BIDDERS
                                 bidders enrolled in every lot, each with a registered key and an API token
    open LOT                     the lot reaches its deadline now and the opening starts (real clock)
    keys BID...                  the bids' object keys

Benchmark scaffolding only: `open` moves the lot's deadline to now with a plain UPDATE (the services take
deadlines from filing, whole days ahead), then runs the real deadline sweep.
"""

import base64
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import django


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")
    django.setup()


def seed(out: Path, lots: int, bidders: int) -> None:
    from cryptography.hazmat.primitives import serialization
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from bidding import services as bidding
    from tests import factories
    from trading.objectstore import get_store

    get_store().ensure_bucket()
    now = timezone.now()
    parties = factories.Parties.create()
    while len(parties.bidders) < bidders:
        n = len(parties.bidders) + 1
        parties.bidders.append(factories.user("bidder", factories.org("bidder", f"投标公司{n}"), f"bidder{n}"))
    kits = [factories.bidder_kit(bidder, now) for bidder in parties.bidders[:bidders]]
    result = {"lots": [], "bidders": []}
    for _ in range(lots):
        lot = factories.lot(parties, stage="published", issued=now - timedelta(days=1), deadline_days=21)
        for kit in kits:
            bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="联系人", contact_phone="13800000000")
        result["lots"].append({"id": lot.pk, "code": lot.transaction_code, "deadline": lot.bid_deadline.isoformat()})
    for kit in kits:
        pem = kit.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        result["bidders"].append(
            {
                "username": kit.user.username,
                "credit_code": kit.user.organisation.credit_code,
                "token": Token.objects.create(user=kit.user).key,
                "public_key": base64.b64encode(kit.public_key).decode(),
                "private_key": pem.decode(),
            }
        )
    out.write_text(json.dumps(result, ensure_ascii=False))


def open_lot(lot_id: int) -> None:
    from django.utils import timezone

    from trading import services
    from trading.models import Lot

    now = timezone.now()
    Lot.objects.filter(pk=lot_id).update(docs_sale_end=now - timedelta(seconds=2), bid_deadline=now - timedelta(seconds=1))
    services.sweep_deadlines(now=now)
    lot = Lot.objects.get(pk=lot_id)
    if lot.status != "opening":
        raise SystemExit(f"lot {lot_id} is {lot.status}, not opening")
    print(json.dumps({"lot": lot_id, "status": lot.status}))


def keys(bid_ids: list[str]) -> None:
    from bidding.models import Bid

    print(json.dumps({bid_id: Bid.objects.get(pk=bid_id).object_key for bid_id in bid_ids}))


def main(argv: list[str]) -> None:
    _setup()
    step, args = argv[0], argv[1:]
    if step == "seed":
        seed(Path(args[0]), int(args[1]), int(args[2]))
    elif step == "open":
        open_lot(int(args[0]))
    elif step == "keys":
        keys(args)
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The tables pushed to the regional platform (trading/regional/payloads.py, docs/regional-exchange.md): each at the
lifecycle action that makes it known, with exactly what that action made public; the bidders not before the opening
record is published (法22, 法36), the committee's names not before the award (法37)."""

from datetime import UTC

import pytest

from bidding.models import Bid, Opening
from evaluation.models import EvaluationReport, EvaluationSession
from evaluation.selectors import committee_of
from notices.models import Letter, Notice
from tests import factories
from tests.trading.regional.kit import envelope, lifecycle, pushes
from trading import services
from trading.models import Lot


def iso(moment) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rows(lot) -> list[tuple]:
    return [(m.seq, m.table, m.event) for m in pushes(lot)]


def data(lot, table: str) -> dict:
    (message,) = [m for m in pushes(lot) if m.table == table]
    return envelope(message)["data"]


def bodies(lot) -> str:
    return "\n".join(m.body for m in pushes(lot))


# What each stop of the lifecycle adds (kit.STAGES): nothing else, nothing earlier.
ADDED = {
    "published": [
        ("project", "lot.registered"),
        ("lot", "lot.registered"),
        ("lot", "lot.filed"),
        ("lot", "lot.published"),
        ("notice", "notice.tender.published"),
    ],
    "opening": [("lot", "lot.opening")],
    "record": [("opening_record", "opening.record_published"), ("bidders", "opening.record_published")],
    "drawn": [("lot", "lot.evaluation_started")],  # a local draw: no remote_seats
    "report": [],
    "publicity": [
        ("lot", "lot.publicity_started"),
        ("report", "lot.publicity_started"),
        ("candidates", "lot.publicity_started"),
        ("notice", "notice.candidates.published"),
    ],
    "awarded": [("lot", "lot.awarded")],
    "letters": [
        ("notice", "notice.result.published"),
        ("result", "lot.letters_issued"),
        ("award", "lot.letters_issued"),
        ("experts", "lot.letters_issued"),
    ],
}


@pytest.mark.django_db
def test_every_table_at_its_action_and_nothing_before(parties, tmp_path, tree):
    bidders = [b.organisation for b in parties.bidders[:3]]  # open_lot's bidders
    secrets_of_bidders = [o.name for o in bidders] + [o.credit_code for o in bidders]
    expected, seen = [], []

    def stop(stage, life):
        expected.extend(ADDED[stage])
        assert rows(life.lot) == [(n, t, e) for n, (t, e) in enumerate(expected, start=1)], stage
        text = bodies(life.lot)
        if stage in ("published", "opening"):
            assert not any(secret in text for secret in secrets_of_bidders), stage
        else:
            assert all(secret in text for secret in secrets_of_bidders), stage
        names = list(committee_of(life.lot.pk).values_list("expert__name", flat=True))
        if stage != "letters":
            assert not any(name in text for name in names), stage
        seen.append(stage)

    life = lifecycle(parties, tmp_path, stop)
    assert seen == ["published", "opening", "record", "drawn", "report", "publicity", "awarded", "letters"]
    lot = Lot.objects.select_related("project__tenderee").get(pk=life.lot.pk)
    project, tenderee = lot.project, lot.project.tenderee

    assert data(lot, "project") == {
        "code": project.code,
        "name": "测试项目",
        "procedure": "construction",
        "tenderee": {"credit_code": tenderee.credit_code, "name": "某县城投公司"},
        "agency": None,
        "region_code": "450102",
        "funding_source": "",
        "registered_at": iso(project.registered_at),
    }
    lot_rows = [envelope(m)["data"] for m in pushes(lot) if m.table == "lot"]
    assert [r["status"] for r in lot_rows] == [
        "registered",
        "filed",
        "published",
        "opening",
        "evaluating",
        "publicity",
        "awarded",
    ]
    assert lot_rows[-1] == {
        "project_code": project.code,
        "lot_no": 1,
        "name": "一标段",
        "status": "awarded",
        "suspended_from": None,
        "estimated_price": "1000000.00",
        "max_price": None,
        "bond_amount": "20000.00",
        "docs_issued_at": "2026-11-02T01:00:00Z",
        "docs_sale_end": "2026-11-09T09:00:00Z",
        "bid_deadline": "2026-11-23T01:30:00Z",
        "publicity_start": iso(lot.publicity_start),
        "publicity_end": iso(lot.publicity_end),
        "retender_of": None,
        "status_changed_at": iso(lot.status_changed_at),
    }
    tender = Notice.objects.get(lot=lot, kind="tender")
    notices = [envelope(m)["data"] for m in pushes(lot) if m.table == "notice"]
    assert [n["kind"] for n in notices] == ["tender", "candidates", "result"]
    assert notices[0] == {
        "id": tender.pk,
        "kind": "tender",
        "title": "招标公告",
        "body": "欢迎投标",
        "region_code": "450102",
        "published_at": "2026-11-02T01:00:00Z",
        "deadline_before": None,
        "deadline_after": None,
    }
    assert [n["body"] for n in notices[1:]] == [
        Notice.objects.get(lot=lot, kind="candidates").body,
        Notice.objects.get(lot=lot, kind="result").body,
    ]

    opening = Opening.objects.get(lot=lot)
    bids = {b.bidder.credit_code: b for b in Bid.objects.filter(opening=opening).select_related("bidder")}
    record = data(lot, "opening_record")
    assert {k: v for k, v in record.items() if k != "rows"} == {
        "started_at": "2026-11-23T01:30:00Z",
        "decryption_deadline": iso(opening.decryption_deadline),
        "decryption_closed_at": iso(opening.decryption_closed_at),
        "published_at": iso(opening.record_published_at),
        "pdf_sha256": opening.record_sha256,
    }
    assert [(r["no"], r["name"], r["status"], r["price"], r["duration_days"], r["quality"]) for r in record["rows"]] == [
        (1, "投标公司1", "decrypted", "900001.00", 365, "合格"),
        (2, "投标公司2", "decrypted", "900002.00", 365, "合格"),
        (3, "投标公司3", "decrypted", "900003.00", 365, "合格"),
    ]
    assert data(lot, "bidders") == {
        "bidders": [
            {
                "credit_code": code,
                "name": bid.bidder.name,
                "status": "decrypted",
                "ciphertext_sha256": bid.sha256,
                "size": bid.size,
                "decrypted_at": iso(bid.decrypted_at),
            }
            for code, bid in sorted(bids.items())
        ]
    }

    session = EvaluationSession.objects.get(lot=lot)
    final = EvaluationReport.objects.get(session=session)
    assert data(lot, "report") == {
        "method": "comprehensive",
        "started_at": iso(session.started_at),
        "finished_at": iso(session.finished_at),
        "committee_size": 5,
        "opened_bids": 3,
        "valid_bids": 2,  # B rejected at compliance
        "report_sha256": final.final_sha256,
        "report_finalized_at": iso(final.finalized_at),
    }
    ranking = services.lot_candidates(lot)
    assert data(lot, "candidates") == {
        "publicity_start": iso(lot.publicity_start),
        "publicity_end": iso(lot.publicity_end),
        "candidates": [{k: c[k] for k in ("rank", "credit_code", "name", "price", "total", "evaluated_price")} for c in ranking],
    }
    assert [(c["rank"], c["name"]) for c in data(lot, "candidates")["candidates"]] == [(1, "投标公司1"), (2, "投标公司3")]

    award = Letter.objects.select_related("recipient").get(lot=lot, kind="award")
    assert data(lot, "result") == {
        "winner": {"credit_code": award.recipient.credit_code, "name": "投标公司1"},
        "rank": 1,
        "price": "900001.00",
        "decided_at": iso(award.issued_at),
    }
    letters = Letter.objects.filter(lot=lot).select_related("recipient").order_by("kind", "recipient__credit_code")
    assert data(lot, "award") == {
        "letters": [
            {
                "kind": x.kind,
                "recipient": {"credit_code": x.recipient.credit_code, "name": x.recipient.name},
                "code": x.code,
                "sha256": x.sha256,
                "issued_at": iso(x.issued_at),
            }
            for x in letters
        ]
    }
    assert [x["kind"] for x in data(lot, "award")["letters"]] == ["award", "result", "result"]
    committee = list(committee_of(lot.pk).select_related("line").order_by("line__position", "position"))
    assert data(lot, "experts") == {
        "experts": [
            {
                "number": None,
                "name": m.expert.name,
                "specialty": "A08",
                "employer": "",
                "venue": m.venue.name,
                "centre": None,
                "pool": "local",
            }
            for m in committee
        ]
    }
    # The same members, in the same order, as the result notice names.
    assert "、".join(e["name"] for e in data(lot, "experts")["experts"]) in Notice.objects.get(lot=lot, kind="result").body


@pytest.mark.django_db
def test_a_failed_opening_pushes_no_bidder_and_the_retender_points_back(parties):
    lot = factories.lot(parties, stage="published")
    factories.enough_bids(parties, lot, count=2)  # fewer than 3: no opening (条例44)
    services.sweep_deadlines(now=lot.bid_deadline)
    lot.refresh_from_db()
    assert lot.status == "failed"
    assert rows(lot)[5:] == [(6, "lot", "lot.opening"), (7, "lot", "lot.failed"), (8, "notice", "notice.failure.published")]
    failure = [envelope(m)["data"] for m in pushes(lot) if m.table == "notice"][-1]
    assert (failure["kind"], failure["title"]) == ("failure", "一标段 流标公告")
    organisations = [b.organisation for b in parties.bidders[-2:]]
    assert not any(o.name in bodies(lot) or o.credit_code in bodies(lot) for o in organisations)

    new = services.lot_retender(lot=lot, actor=parties.staff, now=lot.bid_deadline)
    assert rows(new) == [(1, "lot", "lot.retendered")]
    pushed = data(new, "lot")
    assert (pushed["status"], pushed["retender_of"], pushed["lot_no"]) == ("registered", lot.transaction_code, 2)
    assert envelope(pushes(new)[0])["lot"] == new.transaction_code

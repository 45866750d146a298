"""Each supervision rule: a case that fires it and a near miss that does not (docs/supervision.md)."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest

from bidding.models import BidStatus
from supervision import rules
from tests import factories
from tests.supervision import kit
from tests.supervision.kit import NOW
from tests.trading.publicity_kit import evaluation_done
from trading import rules as legal
from trading.models import LotStatus

pytestmark = pytest.mark.django_db

SHA_A = "a" * 64
SHA_B = "b" * 64


def brief(findings):
    return [(f.rule, f.level, f.lot_id, f.key) for f in findings]


def org_ref(user):
    o = user.organisation
    return {"id": o.pk, "name": o.name, "credit_code": o.credit_code}


# --- 条例40第一项: same upload address ----------------------------------------------------------------------------


def test_two_bidders_uploading_from_one_address_is_red(parties):
    b1, b2, b3 = parties.bidders[:3]
    lot = kit.lot(parties)
    first = kit.bid(lot, b1, ip="203.0.113.7")
    second = kit.bid(lot, b2, ip="203.0.113.7", status=BidStatus.REVOKED)
    kit.bid(lot, b3, ip="203.0.113.8")
    [finding] = rules.same_upload_address(now=NOW)
    assert brief([finding]) == [("same_upload_address", "red", lot.pk, "ip:203.0.113.7")]
    assert finding.subject == {"bidders": [org_ref(b1), org_ref(b2)]}
    assert finding.details == {
        "address": "203.0.113.7",
        "bids": [
            {"bid": str(first.pk), "bidder": b1.organisation_id, "status": "decrypted"},
            {"bid": str(second.pk), "bidder": b2.organisation_id, "status": "revoked"},
        ],
    }
    assert "条例40第一项" in finding.zh and "203.0.113.7" in finding.zh


def test_one_address_near_misses_fire_nothing(parties):
    b1, b2 = parties.bidders[:2]
    lot, other_lot = kit.lot(parties), kit.lot(parties)
    # The same bidder replacing its own bid from one address; two bidders on one address but in different lots;
    # bids without a recorded address.
    kit.bid(lot, b1, ip="203.0.113.7", status=BidStatus.REPLACED)
    kit.bid(lot, b1, ip="203.0.113.7")
    kit.bid(other_lot, b2, ip="203.0.113.7")
    kit.bid(other_lot, b1, ip=None)
    kit.bid(other_lot, parties.bidders[2], ip=None)
    assert rules.same_upload_address(now=NOW) == []


# --- 条例40第一项: same device ----------------------------------------------------------------------------------------


def test_two_bidders_sealing_on_one_device_is_red(parties):
    b1, b2 = parties.bidders[:2]
    lot = kit.lot(parties)
    kit.bid(lot, b1, fingerprint="machine-7f3a")
    kit.bid(lot, b2, fingerprint="machine-7f3a")
    kit.bid(lot, parties.bidders[2], fingerprint="machine-0001")
    [finding] = rules.same_device_fingerprint(now=NOW)
    digest = hashlib.sha256(b"machine-7f3a").hexdigest()
    assert brief([finding]) == [("same_device_fingerprint", "red", lot.pk, f"fp:{digest}")]
    assert finding.subject == {"bidders": [org_ref(b1), org_ref(b2)]}
    assert finding.details["fingerprint"] == "machine-7f3a"


def test_different_or_missing_fingerprints_fire_nothing(parties):
    b1, b2, b3 = parties.bidders[:3]
    lot = kit.lot(parties)
    kit.bid(lot, b1, fingerprint="machine-7f3a")
    kit.bid(lot, b2, fingerprint="machine-7f3b")
    kit.bid(lot, b3, fingerprint="")
    kit.bid(lot, parties.bidders[3], fingerprint="")
    assert rules.same_device_fingerprint(now=NOW) == []


# --- 条例40第四项: identical files ------------------------------------------------------------------------------------


def test_identical_opened_files_are_red(parties):
    b1, b2, b3 = parties.bidders[:3]
    lot = kit.lot(parties)
    kit.bid(lot, b1, plaintext_sha256=SHA_A)
    kit.bid(lot, b2, plaintext_sha256=SHA_A)
    kit.bid(lot, b3, plaintext_sha256=SHA_B)
    [finding] = rules.identical_bid_files(now=NOW)
    assert brief([finding]) == [("identical_bid_files", "red", lot.pk, f"plain:{SHA_A}")]
    assert finding.subject == {"bidders": [org_ref(b1), org_ref(b2)]}
    assert (finding.details["file"], finding.details["sha256"]) == ("plain", SHA_A)


def test_a_copied_sealed_file_is_red(parties):
    b1, b2 = parties.bidders[:2]
    lot = kit.lot(parties)
    kit.bid(lot, b1, sha256=SHA_B, status=BidStatus.SUBMITTED)
    kit.bid(lot, b2, sha256=SHA_B, status=BidStatus.SUBMITTED)
    assert brief(rules.identical_bid_files(now=NOW)) == [("identical_bid_files", "red", lot.pk, f"cipher:{SHA_B}")]


def test_identical_file_near_misses_fire_nothing(parties):
    b1, b2, b3 = parties.bidders[:3]
    lot, other_lot = kit.lot(parties), kit.lot(parties)
    # Not opened yet (no plaintext hash); the same file in two different lots; the same bidder's file twice;
    # a declared ciphertext hash of an upload never completed.
    kit.bid(lot, b1, status=BidStatus.SUBMITTED)
    kit.bid(lot, b2, status=BidStatus.SUBMITTED)
    kit.bid(lot, b3, plaintext_sha256=SHA_A)
    kit.bid(other_lot, b1, plaintext_sha256=SHA_A)
    kit.bid(other_lot, b2, sha256=SHA_B, status=BidStatus.REPLACED)
    kit.bid(other_lot, b2, sha256=SHA_B)
    kit.bid(other_lot, b3, sha256=SHA_B, status=BidStatus.WITHDRAWN, completed=False)
    assert rules.identical_bid_files(now=NOW) == []


# --- 条例40第四项: regular price gaps ---------------------------------------------------------------------------------


def test_price_progressions_pure():
    d = [Decimal(x) for x in ("100", "110", "120", "130", "500")]
    [run] = rules.price_progressions(d, min_bids=3, tolerance=Decimal("0.01"))
    # 100..130 is exactly arithmetic; the ratios 1.1, 1.0909, 1.0833 are not geometric within 1 %.
    assert (run.start, run.end, run.kinds, run.exact) == (0, 4, ("arithmetic",), True)
    geometric = [Decimal(x) for x in ("1000000", "1020000", "1040400")]
    assert rules.price_progressions(geometric, min_bids=3, tolerance=Decimal("0.01")) == [
        rules.Progression(0, 3, ("geometric",), True)
    ]
    # Equal prices have no gap; two prices are no run.
    assert rules.price_progressions([Decimal(5)] * 3, min_bids=3, tolerance=Decimal("0.01")) == []
    assert rules.price_progressions(d[:2], min_bids=3, tolerance=Decimal("0.01")) == []


def test_exactly_equal_price_gaps_are_red(parties):
    lot, bids = kit.priced_lot(parties, ["920000.00", "900000.00", "910000.00", "955123.00"])
    [finding] = rules.regular_price_gaps(now=NOW)
    assert (finding.rule, finding.level, finding.lot_id) == ("regular_price_gaps", "red", lot.pk)
    assert finding.details["exact"] is True
    # The ratios 1.01111 and 1.01099 differ by 1.1 % of (ratio - 1): not geometric within 1 %.
    assert finding.details["progression"] == ["arithmetic"]
    assert [row["price"] for row in finding.details["bids"]] == ["900000.00", "910000.00", "920000.00"]
    assert [row["bid"] for row in finding.details["bids"]] == [str(bids[1].pk), str(bids[2].pk), str(bids[0].pk)]


def test_near_equal_price_gaps_are_yellow(parties):
    # Gaps 10000 and 10090: (10090 - 10000) / 10090 = 0.89 % <= 1 % (the ratios agree as well).
    kit.priced_lot(parties, ["900000", "910000", "920090"])
    [finding] = rules.regular_price_gaps(now=NOW)
    assert (finding.level, finding.details["exact"]) == ("yellow", False)


def test_price_gaps_just_outside_the_tolerance_fire_nothing(parties):
    # Gaps 10000 and 9850: 1.5 % > 1 %, ratios minus one 0.01111 and 0.01082: 2.6 % > 1 %; a run of two; an
    # unreadable price; a price of a bid that was not opened.
    kit.priced_lot(parties, ["900000", "910000", "919850"])
    kit.priced_lot(parties, ["900000", "910000", "abc"])
    lot, _ = kit.priced_lot(parties, ["900000", "910000"])
    kit.bid(lot, factories.org("bidder"), price="920000", status=BidStatus.REVOKED)
    assert rules.regular_price_gaps(now=NOW) == []


# --- An expert's repeated outliers ------------------------------------------------------------------------------------


def test_an_expert_flagged_in_three_of_their_last_five_sessions_is_yellow(parties):
    expert = kit.expert("王专家")
    day = timedelta(days=1)
    sessions = [
        kit.session(parties, expert, started_at=NOW - 10 * day, flags=1),
        kit.session(parties, expert, started_at=NOW - 8 * day),
        kit.session(parties, expert, started_at=NOW - 6 * day, flags=2),
        kit.session(parties, expert, started_at=NOW - 4 * day),
        kit.session(parties, expert, started_at=NOW - 2 * day, flags=1),
    ]
    [finding] = rules.expert_repeated_outliers(now=NOW)
    assert brief([finding]) == [("expert_repeated_outliers", "yellow", None, f"expert:{expert.pk}/session:{sessions[4].pk}")]
    assert finding.subject == {"expert": {"id": expert.pk, "name": "王专家"}}
    assert finding.details == {
        "window": 5,
        "flagged_sessions": 3,
        "sessions": [
            {"session": s.pk, "lot": s.lot_id, "flags": n} for s, n in zip(sessions[::-1], [1, 0, 2, 0, 1], strict=True)
        ],
    }


def test_outliers_outside_the_window_or_voided_fire_nothing(parties):
    day = timedelta(days=1)
    # Three flagged sessions, but the oldest is the sixth from the latest: two in the last five.
    old_hand = kit.expert()
    kit.session(parties, old_hand, started_at=NOW - 20 * day, flags=1)
    for n, flagged in enumerate([1, 0, 0, 0, 1]):
        kit.session(parties, old_hand, started_at=NOW - (10 - n) * day, flags=flagged)
    # Three flagged sessions, one of them only with a replaced member's voided flags.
    replaced = kit.expert()
    kit.session(parties, replaced, started_at=NOW - 5 * day, flags=1)
    kit.session(parties, replaced, started_at=NOW - 4 * day, flags=1)
    kit.session(parties, replaced, started_at=NOW - 3 * day, flags=1, voided=True)
    assert rules.expert_repeated_outliers(now=NOW) == []


# --- The same winner under one agency --------------------------------------------------------------------------------


def test_one_winner_of_three_of_an_agencys_last_five_lots_is_yellow(parties):
    agency = parties.agency.organisation
    winner, other = parties.bidders[0], parties.bidders[1]
    day = timedelta(days=1)
    lots = [
        kit.awarded_lot(parties, agency, w, issued_at=NOW - n * day)
        for n, w in [(9, winner), (7, other), (5, winner), (3, other), (1, winner)]
    ]
    [finding] = rules.repeat_winner(now=NOW)
    assert brief([finding]) == [("repeat_winner", "yellow", lots[4].pk, f"agency:{agency.pk}/winner:{winner.organisation_id}")]
    assert finding.subject == {
        "agency": {"id": agency.pk, "name": agency.name, "credit_code": agency.credit_code},
        "winner": org_ref(winner),
    }
    assert (finding.details["window"], finding.details["wins"]) == (5, 3)
    assert [row["lot"] for row in finding.details["lots"]] == [x.pk for x in lots[::-1]]


def test_a_winner_before_the_letters_counts_from_the_ranking(parties):
    agency = parties.agency.organisation
    winner = parties.bidders[0]
    day = timedelta(days=1)
    kit.awarded_lot(parties, agency, winner, issued_at=NOW - 5 * day)
    kit.awarded_lot(parties, agency, winner, issued_at=NOW - 4 * day)
    pending = kit.lot(parties, status=LotStatus.AWARDED, agency=agency, status_changed_at=NOW - day)
    won = kit.bid(pending, winner, opening=kit.opening(pending), price="900000")
    evaluation_done(parties, pending, at=NOW - 3 * day, ranking=[{"bid": str(won.pk), "rank": 1, "price": "900000"}])
    [finding] = rules.repeat_winner(now=NOW)
    assert (finding.lot_id, finding.details["wins"]) == (pending.pk, 3)
    assert finding.details["lots"][0]["by"] == "ranking"


def test_winners_spread_or_across_agencies_fire_nothing(parties):
    agency, other_agency = parties.agency.organisation, factories.org("agency")
    winner = parties.bidders[0]
    day = timedelta(days=1)
    # Two wins in the agency's last five; a third only under another agency, and one under no agency at all.
    for n, w in [(9, winner), (7, parties.bidders[1]), (5, winner), (3, parties.bidders[2]), (1, parties.bidders[3])]:
        kit.awarded_lot(parties, agency, w, issued_at=NOW - n * day)
    kit.awarded_lot(parties, other_agency, winner, issued_at=NOW - 2 * day)
    kit.awarded_lot(parties, None, winner, issued_at=NOW - 2 * day)
    assert rules.repeat_winner(now=NOW) == []


# --- Deadlines --------------------------------------------------------------------------------------------------------


def test_decryption_not_closed_after_the_window_is_yellow_then_red(parties):
    lot = kit.lot(parties, status=LotStatus.OPENING)
    opening = kit.opening(lot, deadline=NOW - timedelta(hours=2))
    [finding] = rules.deadlines_missed(now=NOW)
    assert brief([finding]) == [("deadline_missed", "yellow", lot.pk, f"decryption_close:{opening.pk}")]
    assert finding.subject == {"deadline": "decryption_close", "responsible": "staff", "article": "电子办法"}
    assert finding.details["overrun_hours"] == 2
    assert [f.level for f in rules.deadlines_missed(now=NOW + timedelta(hours=23))] == ["red"]


def test_decryption_within_the_grace_or_closed_in_time_fires_nothing(parties):
    lot = kit.lot(parties, status=LotStatus.OPENING)
    kit.opening(lot, deadline=NOW - legal.DECRYPTION_CLOSE_GRACE)  # exactly at the grace
    closed = kit.lot(parties, status=LotStatus.EVALUATING)
    kit.opening(closed, deadline=NOW - timedelta(days=2), closed_at=NOW - timedelta(days=2) + timedelta(minutes=1))
    paused = kit.lot(parties, status=LotStatus.SUSPENDED, suspended_from=LotStatus.OPENING)
    kit.opening(paused, deadline=NOW - timedelta(days=2))
    assert rules.deadlines_missed(now=NOW) == []


def test_a_decryption_closed_late_stays_late(parties):
    lot = kit.lot(parties, status=LotStatus.EVALUATING)
    deadline = NOW - timedelta(days=3)
    kit.opening(lot, deadline=deadline, closed_at=deadline + timedelta(hours=3))
    [finding] = rules.deadlines_missed(now=NOW)
    assert (finding.level, finding.details["overrun_hours"], finding.details["done_at"]) == (
        "yellow",
        3,
        (deadline + timedelta(hours=3)).isoformat(),
    )


def test_candidates_not_published_by_the_rules_day(parties):
    lot = kit.lot(parties, status=LotStatus.EVALUATING)
    report_at = NOW - timedelta(days=5)
    evaluation_done(parties, lot, at=report_at)
    due = legal.candidates_publicity_due(lot.project.rule_set, report_at=report_at)
    assert due < NOW
    [finding] = rules.deadlines_missed(now=NOW)
    assert brief([finding]) == [("deadline_missed", "yellow", lot.pk, "candidates_publicity")]
    assert finding.subject["article"] == "条例54"
    assert finding.details["due"] == due.isoformat()
    assert [f.level for f in rules.deadlines_missed(now=due + legal.DEADLINE_RED_AFTER + timedelta(seconds=1))] == ["red"]
    # Near miss: the due instant itself, and a lot paused (the sweep leaves it alone too).
    assert rules.deadlines_missed(now=due) == []
    lot.status, lot.suspended_from = LotStatus.SUSPENDED, LotStatus.EVALUATING
    lot.save()
    assert rules.deadlines_missed(now=NOW) == []


def test_candidates_published_in_time_fire_nothing_late_ones_stay(parties):
    report_at = NOW - timedelta(days=10)
    on_time = kit.lot(parties, status=LotStatus.PUBLICITY, publicity_start=report_at + timedelta(days=1))
    evaluation_done(parties, on_time, at=report_at)
    assert rules.deadlines_missed(now=NOW) == []
    due = legal.candidates_publicity_due(on_time.project.rule_set, report_at=report_at)
    type(on_time).objects.filter(pk=on_time.pk).update(publicity_start=due + timedelta(hours=5))
    [finding] = rules.deadlines_missed(now=NOW)
    assert (finding.level, finding.details["overrun_hours"]) == ("yellow", 5)


def test_an_objection_answer_overdue(parties):
    lot = kit.lot(parties, status=LotStatus.SUSPENDED, suspended_from=LotStatus.PUBLICITY)
    pending = kit.objection(lot, raised_at=NOW - timedelta(days=5), answer_due=NOW - timedelta(hours=1))
    kit.objection(
        lot,
        raised_at=NOW - timedelta(days=5),
        answer_due=NOW - timedelta(days=2),
        answered_at=NOW - timedelta(days=2, minutes=1),
        by=parties.tenderee,
    )
    kit.objection(lot, raised_at=NOW - timedelta(days=1), answer_due=NOW + timedelta(days=2))
    [finding] = rules.deadlines_missed(now=NOW)
    assert brief([finding]) == [("deadline_missed", "yellow", lot.pk, f"objection_answer:{pending.pk}")]
    assert finding.subject == {"deadline": "objection_answer", "responsible": "tenderee", "article": "条例22/条例54"}
    assert (finding.details["objection"], finding.details["stage"]) == (str(pending.pk), "results")


def test_award_letters_not_issued_in_time(parties):
    awarded_at = NOW - timedelta(days=6)
    lot = kit.lot(parties, status=LotStatus.AWARDED, status_changed_at=awarded_at)
    due = legal.award_letters_due(lot.project.rule_set, awarded_at=awarded_at)
    assert due < NOW
    [finding] = rules.deadlines_missed(now=NOW)
    assert brief([finding]) == [("deadline_missed", "yellow", lot.pk, "award_letters")]
    assert finding.subject == {"deadline": "award_letters", "responsible": "staff", "article": "法45"}
    # Near miss: letters issued before the due instant.
    kit.award_letter(parties, lot, parties.bidders[0], issued_at=due - timedelta(minutes=1))
    assert rules.deadlines_missed(now=NOW) == []
    assert rules.deadlines_missed(now=due) == []

"""A whole evaluation over real websockets: five experts in two venues, from sign-in to the signed report, the
candidates' publicity and the award letter, with the PDFs read back.

Everything the committee, staff and bidders do goes through the HTTP API; the room is watched through
`trading.asgi.application` with WebsocketCommunicator (the Redis channel layer when REDIS_URL is set, as in CI).
Only what other tests cover in depth is set up through the services: the sealed bids and the opening
(tests/bidding), the draw (tests/evaluation/test_draw_services.py).
"""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
import pytest_asyncio
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from pypdf import PdfReader

from evaluation import services as draws
from evaluation.models import DrawnExpert, EvaluationSession
from notices.models import Letter, Notice
from tests import factories
from tests.bidding.opening_kit import client, decrypt, open_lot, sign_in
from tests.evaluation import kit
from tests.realtime.kit import HOST, ORIGIN, session_cookie
from trading import services as lifecycle
from trading.asgi import application
from trading.models import Lot, LotStatus

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

T0 = kit.WINDOW[0] + timedelta(minutes=5)
MAX_PRICE = Decimal("900002.50")  # bidder3 offers 900003.00: above it, rejected whatever the votes (条例51)
DISSENT = "本人认为投标人甲的技术方案评分偏高，不同意排序结果。"
# Each member's scores for (bidder index, criterion): bidder1 and bidder2 remain after the reviews.
SCORES = {
    (0, "T1"): ["25", "26", "24", "27", "25"],
    (0, "C1"): ["18", "18", "17", "19", "18"],
    (1, "T1"): ["27", "28", "27", "28", "26"],
    (1, "C1"): ["17", "18", "18", "18", "17"],
}


@pytest_asyncio.fixture
async def close_db_after():
    yield
    await database_sync_to_async(connections.close_all)()


class Socket:
    """One websocket in the room, keeping every message it received."""

    def __init__(self, label: str, communicator: WebsocketCommunicator):
        self.label, self.communicator, self.messages = label, communicator, []

    async def until(self, kind: str, timeout: float = 10, **match) -> dict:
        while True:
            message = await self.communicator.receive_json_from(timeout=timeout)
            self.messages.append(message)
            if message["kind"] == kind and all(message["payload"].get(k) == v for k, v in match.items()):
                return message

    async def drain(self) -> None:
        while not await self.communicator.receive_nothing(timeout=0.2):
            self.messages.append(await self.communicator.receive_json_from(timeout=1))

    def kinds(self) -> list[str]:
        return [m["kind"] for m in self.messages]


async def enter(label: str, path: str, cookie: bytes, query: str = "") -> Socket:
    communicator = WebsocketCommunicator(application, f"{path}{query}", headers=[ORIGIN, HOST, (b"cookie", cookie)])
    connected, _ = await communicator.connect(timeout=5)
    assert connected is True
    socket = Socket(label, communicator)
    await socket.until("snapshot")
    return socket


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace(" ", "").replace("\n", "")


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, getattr(response, "data", response.content[:500]))
    return response.json() if response.get("Content-Type", "").startswith("application/json") else response


@database_sync_to_async
def build(tmp_path):
    """The lot at its evaluation: a method with criteria made through the API before the documents are issued,
    three sealed bids opened and decrypted, a committee of five (three at the main venue, two at the secondary)
    drawn and confirmed."""
    kit.specialties()
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="filed", issued=kit.ISSUED, max_price=MAX_PRICE)
    with time_machine.travel(kit.ISSUED - timedelta(hours=2), tick=False):
        ok(
            client(parties.tenderee).post(
                "/api/evaluation-methods/",
                {
                    "lot": lot.pk,
                    "kind": "comprehensive",
                    "technical_weight": "30",
                    "commercial_weight": "20",
                    "price_weight": "50",
                    "price_formula": "benchmark",
                    "criteria": [
                        {"stage": "qualification", "name": "营业执照与资质"},
                        {"stage": "compliance", "name": "工期与质量响应"},
                        {"stage": "technical", "name": "T1", "max_score": "30"},
                        {"stage": "commercial", "name": "C1", "max_score": "20"},
                    ],
                },
                format="json",
            ),
            201,
        )
    lifecycle.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=kit.ISSUED)
    opened = open_lot(parties, tmp_path, lot=lot, count=3)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for bidder in opened.kits:
            assert decrypt(opened, bidder).status_code == 200
    factories.finish_opening(parties, lot)
    kit.experts(8, "A0801")
    with time_machine.travel(kit.NOW, tick=False):
        lifecycle.lot_start_evaluation(lot=lot, actor=parties.staff)
        draw = draws.draw_run(request=kit.request(parties, lot), actor=parties.staff, seed=kit.seed("whole-evaluation"))
        for member in DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.INVITED):
            ok(client(member.expert.user).post(f"/api/committee-members/{member.pk}/confirm/"))
    members = list(
        DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.CONFIRMED)
        .select_related("expert__user", "venue")
        .order_by("venue__kind", "seat")
    )
    return parties, opened, members


async def test_five_experts_in_two_venues_evaluate_live_to_a_signed_report_and_an_award_letter(tmp_path, close_db_after):
    parties, opened, members = await build(tmp_path)
    lot = opened.lot
    bids = [await database_sync_to_async(opened.bid)(k) for k in opened.kits]
    bidders = [k.user.organisation.name for k in opened.kits]
    assert sorted({m.venue.kind for m in members}) == ["main", "secondary"] and len(members) == 5
    room = f"/ws/evaluation/{lot.pk}/"
    api = f"/api/lots/{lot.pk}/evaluation-session"

    def as_(user):
        return database_sync_to_async(client(user).post)

    def member(i):
        return members[i].expert.user

    with time_machine.travel(T0, tick=True):
        cookies = await database_sync_to_async(
            lambda: [session_cookie(m.expert.user) for m in members] + [session_cookie(parties.supervisor)]
        )()
        ok(await as_(parties.staff)(f"{api}/start/"), 201)
        experts = [await enter(f"m{i}", room, cookies[i]) for i in range(5)]
        supervisor = await enter("supervisor", room, cookies[5])
        everyone = [*experts, supervisor]

        # Sign-in from each seat's venue, then the declaration and the chair.
        for i, m in enumerate(members):
            ok(await as_(member(i))(f"{api}/sign-in/", {"venue": m.venue_id}, format="json"))
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "sign_in"}, format="json"))
        for socket in everyone:
            await socket.until("phase", phase="declaration")
        for i in range(5):
            ok(await as_(member(i))(f"{api}/declaration/", {"conflict": False}, format="json"))
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "declaration"}, format="json"))
        for i in range(5):
            ok(await as_(member(i))(f"{api}/chair-vote/", {"candidate": members[0].pk}, format="json"))
        for socket in everyone:
            assert (await socket.until("chair_elected"))["payload"]["chair"] == members[0].pk
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "chair_election"}, format="json"))

        (method,) = ok(await database_sync_to_async(client(member(1)).get)(f"/api/evaluation-methods/?lot={lot.pk}"))["results"]
        criteria = {c["name"]: c["id"] for c in method["criteria"]}
        # Qualification: member 4 fails bidder2 with a reason and is outvoted (dissent recorded); bidder3 is above the
        # maximum price and is rejected whatever the votes.
        for i in range(5):
            verdicts = [
                {
                    "bid": str(bid.pk),
                    "criterion": criteria["营业执照与资质"],
                    "passed": not (i == 4 and n == 1),
                    "reason": "资质证书已过有效期" if (i == 4 and n == 1) else "",
                }
                for n, bid in enumerate(bids)
            ]
            ok(await as_(member(i))(f"{api}/reviews/", {"phase": "qualification", "verdicts": verdicts}, format="json"))
        decided = await supervisor.until("review_decided", phase="qualification")
        results = {r["bid"]: r for r in decided["payload"]["results"]}
        assert results[str(bids[1].pk)]["passed"] is True and results[str(bids[1].pk)]["dissenters"] == [members[4].pk]
        assert results[str(bids[2].pk)]["passed"] is False
        assert any("最高投标限价" in str(r) for r in results[str(bids[2].pk)]["reasons"])
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "qualification"}, format="json"))
        # Discussion from the secondary venue reaches every seat and the supervisor, who only watches and may pause:
        # while paused, no one acts.
        remark = "建议重点复核投标人的施工组织设计。"
        await experts[4].communicator.send_json_to({"type": "message", "text": remark})
        for socket in everyone:
            said = await socket.until("message")
            assert (said["payload"]["text"], said["payload"]["venue"]) == (remark, members[4].venue_id)
        await supervisor.communicator.send_json_to({"type": "message", "text": "监督人员发言"})
        assert (await supervisor.until("error"))["payload"]["command"] == "message"
        await supervisor.communicator.send_json_to({"type": "pause", "reason": "副场网络中断，核查中"})
        for socket in everyone:
            await socket.until("paused")
        refused = await as_(member(0))(
            f"{api}/clarifications/", {"bid": str(bids[0].pk), "question": "？", "minutes": 30}, format="json"
        )
        assert (refused.status_code, refused.json()["code"]) == (409, "room_paused")
        await supervisor.communicator.send_json_to({"type": "resume"})
        for socket in everyone:
            await socket.until("resumed")
        # The chair asks bidder1 to clarify (条例52); the bidder answers through the platform, the room sees both.
        question = "请说明投标文件中工期计划与质量承诺的对应关系。"
        asked = ok(
            await as_(member(0))(
                f"{api}/clarifications/", {"bid": str(bids[0].pk), "question": question, "minutes": 30}, format="json"
            ),
            201,
        )
        for socket in everyone:
            await socket.until("clarification_requested")
        inbox = ok(await database_sync_to_async(client(opened.kits[0].user).get)("/api/clarifications/"))
        inbox = inbox["results"] if isinstance(inbox, dict) else inbox
        assert [(q["id"], q["question"]) for q in inbox] == [(asked["id"], question)] and "asked_by" not in inbox[0]
        answer = {"answer": "工期计划第3章与质量承诺第5章逐项对应，未改变投标文件实质性内容。"}
        ok(await as_(opened.kits[0].user)(f"/api/clarifications/{asked['id']}/answer/", answer, format="json"))
        for socket in everyone:
            await socket.until("clarification_answered")
        for i in range(5):
            verdicts = [
                {"bid": str(bid.pk), "criterion": criteria["工期与质量响应"], "passed": True, "reason": ""} for bid in bids[:2]
            ]
            ok(await as_(member(i))(f"{api}/reviews/", {"phase": "compliance", "verdicts": verdicts}, format="json"))
        await supervisor.until("review_decided", phase="compliance")
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "compliance"}, format="json"))

        # Scoring: a member drops off mid-phase and reconnects with ?since=; nobody sees another's scores before
        # the phase closes, only who has submitted.
        await experts[3].drain()
        last_seen = max(m["seq"] for m in experts[3].messages if m["seq"] is not None)
        await experts[3].communicator.disconnect()
        for i in range(5):
            scores = [
                {"bid": str(bids[n].pk), "criterion": criteria[name], "score": SCORES[(n, name)][i]} for (n, name) in SCORES
            ]
            ok(await as_(member(i))(f"{api}/scores/", {"scores": scores}, format="json"))
            if i == 1:
                experts[3] = await enter("m3", room, cookies[3], query=f"?since={last_seen}")
                everyone = [*experts, supervisor]
                replayed = [m for m in experts[3].messages if m["seq"] is not None and m["seq"] > last_seen]
                assert [m["kind"] for m in replayed].count("submitted") == 2
        for socket in experts:
            await socket.drain()
            for message in socket.messages:
                if message["kind"] == "submitted":
                    assert set(message["payload"]) == {"phase", "member"}
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "scoring"}, format="json"))
        await supervisor.until("price_result")
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "price"}, format="json"))
        ranking = (await supervisor.until("ranking"))["payload"]["ranking"]
        assert [row["bid"] for row in ranking] == [str(bids[1].pk), str(bids[0].pk)]

        # The report: drafted on leaving the summary, signed by each member in the platform; one dissents.
        ok(await as_(parties.staff)(f"{api}/advance/", {"phase": "summary"}, format="json"))
        draft = (await experts[0].until("report"))["payload"]["sha256"]
        for i in range(5):
            body = {"sha256": draft, "agree": i != 4, "dissent": DISSENT if i == 4 else ""}
            ok(await as_(member(i))(f"{api}/report/sign/", body, format="json"))
        for socket in everyone:
            await socket.until("phase", phase="done")
        # The supervisor saw every event of the room, in order, none missing.
        await supervisor.drain()
        seqs = [m["seq"] for m in supervisor.messages if m["seq"] is not None]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        for socket in everyone:
            await socket.communicator.disconnect()

    report = ok(await database_sync_to_async(client(parties.staff).get)(f"{api}/report/"))
    assert report["finalized_at"] and len(report["signatures"]) == 5
    pdf = await database_sync_to_async(lambda: b"".join(client(parties.staff).get(f"{api}/report/pdf/").streaming_content))()
    text = pdf_text(pdf)
    names = [m.expert.name for m in members]
    for needle in [*names, "最高投标限价", "资质证书已过有效期", DISSENT, bidders[1], "工期计划第3章与质量承诺第5章逐项对应"]:
        assert needle in text, needle
    assert text.index(bidders[1]) < text.rindex(bidders[0])

    # Publicity of the candidates, no objection, the award after the period, letters to every bidder.
    session = await database_sync_to_async(EvaluationSession.objects.get)(lot=lot)
    at = session.finished_at + timedelta(minutes=30)
    with time_machine.travel(at, tick=False):
        ok(await as_(parties.staff)(f"/api/lots/{lot.pk}/start-publicity/"))
    notice = await database_sync_to_async(Notice.objects.get)(lot=lot, kind="candidates")
    assert notice.body.index(bidders[1]) < notice.body.index(bidders[0])
    assert bidders[2] not in notice.body
    lot = await database_sync_to_async(Lot.objects.get)(pk=lot.pk)
    await database_sync_to_async(lifecycle.sweep_deadlines)(now=lot.publicity_end + timedelta(minutes=1))
    lot = await database_sync_to_async(Lot.objects.get)(pk=lot.pk)
    assert lot.status == LotStatus.AWARDED
    with time_machine.travel(lot.publicity_end + timedelta(hours=1), tick=False):
        ok(await as_(parties.staff)(f"/api/lots/{lot.pk}/award-letters/", {}, format="json"), 201)
    letter = await database_sync_to_async(Letter.objects.select_related("recipient").get)(lot=lot, kind="award")
    assert letter.recipient_id == bids[1].bidder_id
    winner = opened.kits[1].user
    listing = ok(await database_sync_to_async(client(winner).get)("/api/letters/"))
    assert [r["code"] for r in listing] == [letter.code]
    data = await database_sync_to_async(
        lambda: b"".join(client(winner).get(f"/api/letters/{letter.pk}/file/").streaming_content)
    )()
    text = pdf_text(data)
    assert "中标通知书" in text and bidders[1] in text and "900002.00" in text and letter.code in text
    check = ok(await database_sync_to_async(client(None).get)(f"/api/letters/verify/{letter.code}/"))
    assert check["sha256"] == letter.sha256

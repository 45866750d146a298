"""Once a lot is awarded: the award letter to the winner and result letters to the other bidders (法45), and the
result notice naming the committee (评标委员会成员名单随中标结果公开). Each letter is a PDF in the object store with
a verification code; anyone can check a letter by its code and SHA-256 on the public verification page."""

import base64
import contextlib
import hashlib
import io
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from bidding import pdf
from bidding.models import Bid, BidStatus
from notices.models import Letter, LetterKind, NoticeKind
from notices.services import notice_create
from trading.access import TENDEREE_SIDE, require_role
from trading.api import DomainError, store_unavailable
from trading.models import Lot, LotStatus, Role
from trading.objectstore import ObjectMissing, StoreUnavailable, get_store
from trading.rules import LOCAL
from trading.services import lot_candidates

VERIFY_PATH = "/api/letters/verify/{code}/"
VERIFY_MAX = 20 * 1024 * 1024  # a letter is a few tens of KiB; what the public check reads at most


def new_code() -> str:
    """16 characters of base32 (80 random bits), in groups of four: cannot be guessed, easy to read out."""
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _local(moment: datetime) -> str:
    return timezone.localtime(moment, LOCAL).strftime("%Y年%m月%d日 %H:%M")


def _committee(lot: Lot) -> list[str]:
    from evaluation.selectors import committee_of

    return list(committee_of(lot.pk).order_by("line__position", "position").values_list("expert__name", flat=True))


def _letter_pdf(lot: Lot, kind: str, recipient, winner, price: str, code: str, now: datetime) -> bytes:
    project = lot.project
    lines = [
        ("致", recipient.name),
        ("项目名称", project.name),
        ("标段名称", lot.name),
        ("统一交易标识码", lot.transaction_code),
        ("招标人", project.tenderee.name),
    ]
    if kind == LetterKind.AWARD:
        paragraphs = [
            f"经评标委员会评审、中标候选人公示期满无异议，确定你单位为本标段中标人，中标价：人民币 {price} 元。",
            f"请你单位自本通知书发出之日起 {project.rule_set.contract_days} 日内，按照招标文件和你单位的投标文件"
            "与招标人订立书面合同（《中华人民共和国招标投标法》第四十六条）。",
        ]
    else:
        paragraphs = [
            f"本标段经评标委员会评审、中标候选人公示期满无异议，中标人为 {winner.name}，中标价：人民币 {price} 元。",
            "感谢你单位参与投标。",
        ]
    footer = [
        f"发出时间：{_local(now)}",
        f"验证码：{code}",
        f"本通知书可在交易平台公开验证页核验：{VERIFY_PATH.format(code=code)}（显示本文件的 SHA-256）。",
    ]
    title = LetterKind(kind).label
    return pdf.letter_pdf(
        pdf.RecordHeading(title=title, lines=lines), paragraphs, footer, font_path=settings.PDF_CJK_FONT, subject=title
    )


def _opening_bidders(lot: Lot) -> list[Bid]:
    """Every bidder whose bid came to the opening, one bid each (the one the opening recorded)."""
    return list(Bid.objects.filter(lot=lot, opening__isnull=False).select_related("bidder").order_by("bidder__credit_code"))


def award_letters_issue(*, lot: Lot, actor, winner_bid=None, reason: str = "", now: datetime | None = None) -> list[Letter]:
    """Staff issue the letters of an awarded lot. The winner is the first candidate of the ranking; another candidate
    only with the reason the ones before it are passed over (条例55: gave up, did not perform, did not furnish the
    performance bond, or was found to have broken the rules). All or nothing: a store or font failure leaves no
    letter, no notice and no object behind."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    if lot.status != LotStatus.AWARDED:
        raise DomainError(
            "not_awarded",
            "标段尚未确定中标人（公示期满且无未决异议后方可发出中标通知书）",
            "The lot is not awarded yet (after the publicity period, with no pending objection)",
            status_code=status.HTTP_409_CONFLICT,
        )
    if Letter.objects.filter(lot=lot).exists():
        raise DomainError("letters_issued", "本标段的中标通知书已发出", "The letters of this lot have already been issued")
    candidates = lot_candidates(lot)
    if not candidates:
        raise DomainError("no_candidates", "本标段没有中标候选人", "The lot has no winning candidates")
    bids = _opening_bidders(lot)
    chosen = candidates[0]["bid"] if winner_bid is None else str(winner_bid)
    winner = next((b for b in bids if str(b.pk) == chosen and b.status == BidStatus.DECRYPTED), None)
    if winner is None:
        raise DomainError(
            "invalid_winner",
            "中标人须为本标段开标时已解密的投标人",
            "The winner must be a bidder whose bid was decrypted at this lot's opening",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    candidate = next((c for c in candidates if c["bid"] == chosen), None)
    if candidate is None:
        raise DomainError(
            "not_a_candidate",
            "中标人须从公示的中标候选人中确定（条例55）",
            "The winner must be one of the published candidates (条例55)",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    reason = reason.strip()
    if candidate is not candidates[0] and not reason:
        raise DomainError(
            "reason_required",
            "不确定排名第一的中标候选人为中标人的，须说明理由（如放弃中标、不能履行合同，条例55）",
            "Naming a candidate other than the first needs the reason (e.g. the first gave up or cannot perform, 条例55)",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    price = str((winner.opening_summary or {}).get("price") or "—")
    store = get_store()
    made = []  # (kind, recipient, code, key, document)
    try:
        for bid in bids:
            kind = LetterKind.AWARD if bid.pk == winner.pk else LetterKind.RESULT
            code = new_code()
            document = _letter_pdf(lot, kind, bid.bidder, winner.bidder, price, code, now)
            key = f"letters/{lot.pk}/{code}.pdf"
            store.put(key, io.BytesIO(document), length=len(document), content_type="application/pdf")
            made.append((kind, bid.bidder, code, key, document))
    except StoreUnavailable:
        _remove(store, [key for *_, key, _ in made])
        raise store_unavailable() from None
    except Exception:
        _remove(store, [key for *_, key, _ in made])
        raise
    try:
        with transaction.atomic():
            Lot.objects.select_for_update().get(pk=lot.pk)
            if Letter.objects.filter(lot=lot).exists():
                raise DomainError(
                    "letters_issued", "本标段的中标通知书已发出", "The letters of this lot have already been issued"
                )
            letters = [
                Letter.objects.create(
                    lot=lot,
                    kind=kind,
                    recipient=recipient,
                    code=code,
                    object_key=key,
                    size=len(document),
                    sha256=hashlib.sha256(document).hexdigest(),
                    issued_at=now,
                    issued_by=actor,
                )
                for kind, recipient, code, key, document in made
            ]
            committee = _committee(lot)
            body = "\n".join(
                [
                    f"项目名称：{lot.project.name}",
                    f"标段名称：{lot.name}（{lot.transaction_code}）",
                    f"招标人：{lot.project.tenderee.name}",
                    f"中标人：{winner.bidder.name}（统一社会信用代码 {winner.bidder.credit_code}）",
                    f"中标价：人民币 {price} 元",
                    *([] if candidate is candidates[0] else [f"中标人为排名第{candidate['rank']}的中标候选人，理由：{reason}"]),
                    f"评标委员会成员：{'、'.join(committee) if committee else '—'}",
                ]
            )
            notice_create(lot=lot, kind=NoticeKind.RESULT, title=f"{lot.name} 中标结果公告", body=body, actor=actor, now=now)
            audit_record(
                action="lot.letters_issued",
                actor=actor,
                obj=lot,
                lot_id=lot.pk,
                after={
                    "winner": winner.bidder_id,
                    "bid": str(winner.pk),
                    "rank": candidate["rank"],
                    "reason": reason if candidate is not candidates[0] else "",
                    "price": price,
                    "letters": [
                        {"kind": x.kind, "recipient": x.recipient_id, "code": x.code, "sha256": x.sha256} for x in letters
                    ],
                },
                now=now,
            )
    except BaseException:
        _remove(store, [key for *_, key, _ in made])
        raise
    return letters


def _remove(store, keys: list[str]) -> None:
    for key in keys:
        with contextlib.suppress(StoreUnavailable, ObjectMissing):
            store.delete(key)


def letters_visible_to(user) -> models.QuerySet[Letter]:
    """Staff and supervisors: all; the tenderee side: its lots' letters; a bidder: the letters addressed to it."""
    qs = Letter.objects.select_related("lot", "lot__project", "recipient")
    if not user.is_authenticated:
        return qs.none()
    if user.role in (Role.STAFF, Role.SUPERVISOR):
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(
            models.Q(lot__project__tenderee_id=user.organisation_id) | models.Q(lot__project__agency_id=user.organisation_id)
        )
    if user.role == Role.BIDDER and user.organisation_id:
        return qs.filter(recipient_id=user.organisation_id)
    return qs.none()


def letter_public_view(letter: Letter) -> dict:
    """What the public verification page shows: enough to identify the letter, its hash to compare."""
    return {
        "code": letter.code,
        "kind": letter.kind,
        "kind_label": letter.get_kind_display(),
        "transaction_code": letter.lot.transaction_code,
        "lot_name": letter.lot.name,
        "project_name": letter.lot.project.name,
        "recipient": letter.recipient.name,
        "issued_at": timezone.localtime(letter.issued_at, LOCAL).isoformat(),
        "size": letter.size,
        "sha256": letter.sha256,
    }


def letter_by_code(code: str) -> Letter:
    letter = Letter.objects.select_related("lot", "lot__project", "recipient").filter(code=code.strip().upper()).first()
    if letter is None:
        raise DomainError("letter_not_found", "验证码不存在", "No letter has this verification code", status_code=404)
    return letter


def letter_check(code: str, content: bytes) -> dict:
    """Whether `content` is exactly the letter with this code."""
    letter = letter_by_code(code)
    if len(content) > VERIFY_MAX:
        raise DomainError("file_too_large", "文件过大", "The file is too large", status_code=413)
    digest = hashlib.sha256(content).hexdigest()
    return {**letter_public_view(letter), "match": digest == letter.sha256, "checked_sha256": digest}

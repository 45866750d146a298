"""补救方案: a lot's rescue key, split k-of-n among opening officers (bidding/shamir.py).

Before the tender documents are issued, staff create the key: the server generates a P-256 key pair, splits the
private scalar among the named officers and returns each officer's share once, in that one response. It keeps the
public key (published with the lot: bidders seal with `--rescue`), its kid, k, and per officer only a keyed digest
of the share, so that a share handed in later can be checked on its own. At opening (after the deadline, before
decryption closes) each officer hands in its share, kept sealed (trading/sealing.py); with k shares the private
key is rebuilt, checked against the kid and kept sealed, and staff can open a bid through its rescue recipient
(bidding.services.opening.bid_rescue_decrypt). When decryption closes, the rebuilt key and the shares are deleted.
"""

import hmac
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from bidding import envelope, shamir
from bidding.models import Opening, RescueKey, RescueShare
from trading.access import require_role
from trading.api import DomainError
from trading.models import Lot, LotStatus, Role, User
from trading.sealing import blind_index, seal, unseal

SHARE_PURPOSE = "rescue-share"
KEY_PURPOSE = "rescue-key"
BEFORE_ISSUE = (LotStatus.REGISTERED, LotStatus.FILED)
BEFORE_DEADLINE = (LotStatus.DRAFT, *BEFORE_ISSUE, LotStatus.PUBLISHED, LotStatus.TENDERING)


def _scope(lot_id: int) -> str:
    return f"lot-{lot_id}"


def _digest(lot_id: int, share_text: str) -> str:
    return blind_index(SHARE_PURPOSE, lot_id, share_text)


def _pem(spki: bytes) -> str:
    return (
        envelope.load_public_key(spki)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _no_rescue_key() -> DomainError:
    return DomainError("no_rescue_key", "该标段没有补救密钥", "This lot has no rescue key", status_code=status.HTTP_404_NOT_FOUND)


@transaction.atomic
def rescue_key_create(*, lot: Lot, actor, officer_ids: list[int], threshold: int, now: datetime | None = None) -> dict:
    """Generates the lot's rescue key and returns it with every officer's share: the only time shares exist whole."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status not in BEFORE_ISSUE or lot.docs_issued_at is not None:
        raise DomainError(
            "rescue_key_too_late",
            "补救密钥须在招标文件发出前生成（标段已登记或已备案时）",
            "A rescue key is created before the tender documents are issued (lot registered or filed)",
        )
    ids = list(officer_ids)
    if len(set(ids)) != len(ids):
        raise DomainError("invalid_officers", "保管人不能重复", "Each officer may be named once", status_code=400)
    officers = {u.pk: u for u in User.objects.filter(pk__in=ids, role=Role.STAFF, is_active=True)}
    if len(officers) != len(ids):
        raise DomainError(
            "invalid_officers",
            "补救密钥的保管人须为交易中心工作人员",
            "Every officer must be an active staff user",
            status_code=400,
        )
    if type(threshold) is not int or not 2 <= threshold <= len(ids) or len(ids) > 255:
        raise DomainError(
            "invalid_threshold",
            "门限须满足 2 ≤ k ≤ 保管人数 ≤ 255",
            "The threshold must satisfy 2 <= k <= number of officers <= 255",
            status_code=400,
        )
    if RescueKey.objects.filter(lot=lot).exists():
        raise DomainError("rescue_key_exists", "该标段已有补救密钥", "This lot already has a rescue key")
    private_key, spki = envelope.generate_key_pair()
    shares = shamir.split(envelope.scalar_of(private_key), threshold, len(ids))
    del private_key  # only the shares leave this function
    try:
        with transaction.atomic():
            key = RescueKey.objects.create(
                lot=lot, kid=envelope.key_id(spki), public_key=spki, threshold=threshold, created_by=actor, created_at=now
            )
    except IntegrityError:
        raise DomainError("rescue_key_exists", "该标段已有补救密钥", "This lot already has a rescue key") from None
    issued = []
    for officer_id, share in zip(ids, shares, strict=True):
        text = shamir.encode_share(share)
        RescueShare.objects.create(rescue_key=key, officer_id=officer_id, x=share[0], digest=_digest(lot.pk, text))
        issued.append({"officer": officer_id, "username": officers[officer_id].username, "x": share[0], "share": text})
    audit_record(
        action="rescue_key.created",
        actor=actor,
        obj=key,
        lot_id=lot.pk,
        after={"kid": key.kid, "threshold": threshold, "officers": ids},
        now=now,
    )
    return {**rescue_key_view(lot=lot, user=actor), "shares": issued}


def rescue_key_view(*, lot: Lot, user) -> dict:
    """The published half: anyone who can see the lot gets the public key to seal with. Staff and supervisors also
    see who holds shares and how many have been handed in."""
    key = RescueKey.objects.filter(lot_id=lot.pk).first()
    if key is None:
        raise _no_rescue_key()
    shares = list(key.shares.select_related("officer"))
    view = {
        "kid": key.kid,
        "public_key": _pem(bytes(key.public_key)),
        "threshold": key.threshold,
        "officers": len(shares),
        "created_at": timezone.localtime(key.created_at).isoformat(),
    }
    if user.role in (Role.STAFF, Role.SUPERVISOR):
        view["holders"] = [
            {"officer": s.officer_id, "username": s.officer.username, "x": s.x, "submitted": s.submitted_at is not None}
            for s in shares
        ]
        view["submitted"] = sum(1 for s in shares if s.submitted_at is not None)
        view["ready"] = key.private_sealed is not None
        view["destroyed_at"] = timezone.localtime(key.destroyed_at).isoformat() if key.destroyed_at else None
    return view


@transaction.atomic
def rescue_share_submit(*, lot: Lot, actor, share: str, now: datetime | None = None) -> dict:
    """An officer hands in its share during the opening; the k-th rebuilds the key (checked against the kid)."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    key = RescueKey.objects.select_for_update().filter(lot_id=lot.pk).first()
    if key is None:
        raise _no_rescue_key()
    row = key.shares.filter(officer=actor).first()
    if row is None:
        raise DomainError(
            "not_officer",
            "您不是该补救密钥的保管人",
            "You hold no share of this rescue key",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    lot = Lot.objects.get(pk=lot.pk)
    if lot.status in BEFORE_DEADLINE or lot.bid_deadline is None or now < lot.bid_deadline:
        raise DomainError(
            "too_early", "投标截止（开标）前不得提交补救密钥份额", "Shares are handed in only after the bid deadline, at opening"
        )
    opening = Opening.objects.filter(lot=lot).first()
    if lot.status != LotStatus.OPENING or opening is None:
        raise DomainError("not_opening", "该标段当前不在开标阶段", "The lot is not being opened now")
    if opening.decryption_closed_at is not None or key.destroyed_at is not None:
        raise DomainError(
            "decryption_closed", "解密时间已结束，补救密钥已销毁", "Decryption has closed; the rescue key is destroyed"
        )
    try:
        parsed = shamir.decode_share(share)
    except ValueError:
        raise DomainError("invalid_share", "份额格式无效（应为 x-十六进制）", 'Not a share ("x-hex")', status_code=400) from None
    text = shamir.encode_share(parsed)
    if parsed[0] != row.x or not hmac.compare_digest(_digest(lot.pk, text), row.digest):
        raise DomainError("wrong_share", "该份额与您保管的份额不符", "This is not the share you were given", status_code=400)
    if (
        RescueShare.objects.filter(pk=row.pk, submitted_at__isnull=True).update(
            sealed=seal(SHARE_PURPOSE, _scope(lot.pk), {"share": text}), submitted_at=now
        )
        != 1
    ):
        raise DomainError("share_submitted", "您已提交过份额", "You have already handed in your share")
    submitted = key.shares.filter(submitted_at__isnull=False).count()
    rebuilt = False
    if key.private_sealed is None and submitted >= key.threshold:
        parts = [
            shamir.decode_share(unseal(SHARE_PURPOSE, _scope(lot.pk), bytes(s.sealed))["share"])
            for s in key.shares.filter(submitted_at__isnull=False, sealed__isnull=False)
        ]
        scalar = shamir.combine(parts)
        try:
            matches = envelope.key_id(envelope.public_key_der(envelope.private_key_from_scalar(scalar).public_key())) == key.kid
        except ValueError:
            matches = False
        if not matches:  # every share was checked against its digest: this means the stored rows were altered
            raise DomainError(
                "rescue_mismatch", "份额无法恢复补救密钥", "The shares do not rebuild the rescue key", status_code=500
            )
        RescueKey.objects.filter(pk=key.pk).update(
            private_sealed=seal(KEY_PURPOSE, _scope(lot.pk), {"scalar": scalar.hex()}), reconstructed_at=now
        )
        rebuilt = True
    audit_record(
        action="rescue_key.share_submitted",
        actor=actor,
        obj=key,
        lot_id=lot.pk,
        after={"x": row.x, "submitted": submitted, "threshold": key.threshold, "rebuilt": rebuilt},
        now=now,
    )
    return {"submitted": submitted, "threshold": key.threshold, "ready": rebuilt or key.private_sealed is not None}


def rescue_private_key(*, lot: Lot) -> ec.EllipticCurvePrivateKey:
    """The rebuilt rescue key, or the refusal: no key, fewer than k shares, or already destroyed."""
    key = RescueKey.objects.filter(lot_id=lot.pk).first()
    if key is None:
        raise _no_rescue_key()
    if key.private_sealed is None:
        raise DomainError(
            "rescue_not_ready",
            f"补救密钥份额不足（需要 {key.threshold} 份），无法使用补救密钥",
            f"Fewer than {key.threshold} shares have been handed in: the rescue key cannot be used",
        )
    scalar = bytes.fromhex(unseal(KEY_PURPOSE, _scope(lot.pk), bytes(key.private_sealed))["scalar"])
    return envelope.private_key_from_scalar(scalar)


def rescue_key_destroy(*, lot: Lot, now: datetime) -> bool:
    """Deletes the rebuilt key and the handed-in shares (when decryption closes). True if there was a key to destroy."""
    RescueShare.objects.filter(rescue_key__lot_id=lot.pk).update(sealed=None)
    return RescueKey.objects.filter(lot_id=lot.pk, destroyed_at__isnull=True).update(private_sealed=None, destroyed_at=now) == 1

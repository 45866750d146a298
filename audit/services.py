"""Writing the audit trail and checking that nobody has edited it.

Each entry's hash is SHA-256 over a canonical JSON of its fields and the previous entry's hash.
Canonical JSON: sorted keys, no spaces, UTF-8 (not \\u-escaped); datetimes as ISO 8601 UTC with
microseconds ("2025-03-01T02:00:00.000000Z"); Decimals as strings; whole floats as integers (so a
value reads back from PostgreSQL's jsonb as it was hashed). `before` and `after` are stored in exactly
that form, so the hash can be recomputed from the row alone.

audit_record() locks the AuditHead row, so appends are serialised: call it as the last write of the
action's transaction, to hold the lock briefly and always after the action's own row locks.
"""

import base64
import datetime as dt
import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise

from audit.context import current_ip
from audit.models import GENESIS_HASH, HEAD_PK, SEALED_ACTION, AuditEvent, AuditHead
from trading.sealing import seal, unseal

SEAL_PURPOSE = "audit"
SEAL_SCOPE = ""


class AuditHeadMissing(Exception):
    """The AuditHead row is gone although the trail has entries: somebody removed it."""


def _plain(value):
    """The value as plain JSON types, in the canonical form described above."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot go into the audit trail")
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError(f"naive datetime {value!r} cannot go into the audit trail")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Promise):
        return str(value)
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"audit trail keys are strings, not {type(key).__name__}")
            name = str.__str__(key) if isinstance(key, str) else str(int(key))
            if name in plain:
                raise ValueError(f"key {name!r} appears twice")
            plain[name] = _plain(item)
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} cannot go into the audit trail")


def canonical_json(value) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "at": event.at,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "ip": event.ip,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "lot_id": event.lot_id,
        "before": event.before,
        "after": event.after,
        "sealed": None if event.sealed is None else base64.b64encode(bytes(event.sealed)).decode("ascii"),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _locked_head() -> AuditHead:
    head = AuditHead.objects.select_for_update().filter(pk=HEAD_PK).first()
    if head is not None:
        return head
    # Only an empty trail starts a new head (a flushed test database, or tables made without migrations).
    # Concurrent starters queue on the primary key; whoever created the row checks that the trail was empty.
    _, created = AuditHead.objects.get_or_create(pk=HEAD_PK, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
    head = AuditHead.objects.select_for_update().get(pk=HEAD_PK)
    if created and AuditEvent.objects.exists():
        raise AuditHeadMissing("the audit head row is missing but the trail has entries; run audit_verify")
    return head


# Called with each new entry inside the recording transaction (trading.apps registers the regional outbox): what
# a hook writes commits or rolls back with the audited change. A hook that raises fails the change.
_hooks: list = []


def on_record(hook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def audit_record(
    *,
    action: str,
    actor=None,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    lot_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    sealed: bool = False,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one entry, inside the caller's transaction.

    sealed=True is for actions that stay secret until the lot's bid deadline: the row then shows only
    action "sealed", its time and its hashes; every real field is sealed into `sealed` (unseal_event()).
    """
    if not action or action == SEALED_ACTION:
        raise ValueError(f"invalid audit action {action!r}")
    at = timezone.now() if now is None else now
    if timezone.is_naive(at):
        raise ValueError("audit_record needs a timezone-aware now")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = getattr(actor, "pk", None)
    content = {
        "actor_id": actor_id,
        "actor_role": (getattr(actor, "role", "") or "") if actor_id is not None else "",
        "ip": current_ip(),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "lot_id": None if lot_id is None else int(lot_id),
        "before": _plain(before or {}),
        "after": _plain(after or {}),
    }
    blob = None
    if sealed:
        blob = seal(SEAL_PURPOSE, SEAL_SCOPE, content)
        content = {
            "actor_id": None,
            "actor_role": "",
            "ip": None,
            "action": SEALED_ACTION,
            "object_type": "",
            "object_id": "",
            "lot_id": None,
            "before": {},
            "after": {},
        }
    with transaction.atomic():
        head = _locked_head()
        event = AuditEvent(seq=head.last_seq + 1, at=at, sealed=blob, prev_hash=head.last_hash, **content)
        event.hash = event_hash(event)
        event.save(force_insert=True)
        AuditHead.objects.filter(pk=HEAD_PK).update(last_seq=event.seq, last_hash=event.hash)
        if blob is None:
            for hook in _hooks:
                hook(event)
    return event


def unseal_event(event: AuditEvent) -> dict:
    """The entry's real fields: opened from `sealed` for a sealed entry, read from the row otherwise."""
    if event.sealed is None:
        content = {
            "actor_id": event.actor_id,
            "actor_role": event.actor_role,
            "ip": event.ip,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "lot_id": event.lot_id,
            "before": event.before,
            "after": event.after,
        }
    else:
        content = unseal(SEAL_PURPOSE, SEAL_SCOPE, event.sealed)
    return {"seq": event.seq, "at": event.at, "sealed": event.sealed is not None, **content}


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)


MAX_PROBLEMS = 1000


class _Problems(list):
    """The first MAX_PROBLEMS problems, and a count of the rest: memory stays bounded however much was edited."""

    hidden = 0

    def add(self, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(message)
        else:
            self.hidden += 1

    def listed(self) -> list[str]:
        return [*self, f"... and {self.hidden} more problems"] if self.hidden else list(self)


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"seq {first}: missing (entry deleted)"
    return f"seq {first}-{last}: missing ({last - first + 1} entries deleted)"


def verify_chain() -> VerifyResult:
    """Recompute every hash and link, in seq order, in constant memory; then compare the tail with the head."""
    problems = _Problems()
    # The head is read before the entries: everything it counts was committed with it, so must be there.
    head = AuditHead.objects.filter(pk=HEAD_PK).first()
    checked = 0
    expected = 1
    last_seq, last_hash = 0, GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        checked += 1
        if event.seq > expected:
            problems.add(_missing(expected, event.seq - 1))
        elif event.prev_hash != last_hash:
            if event.seq == 1:
                problems.add("seq 1: prev_hash is not the genesis hash")
            else:
                problems.add(f"seq {event.seq}: prev_hash does not match seq {last_seq}")
        if event_hash(event) != event.hash:
            problems.add(f"seq {event.seq}: hash mismatch (entry edited)")
        expected = event.seq + 1
        last_seq, last_hash = event.seq, event.hash

    if head is None:
        # A head that appeared while we read belongs to the very first entry, written meanwhile.
        if checked and not AuditHead.objects.filter(pk=HEAD_PK).exists():
            problems.add("head: missing (AuditHead row deleted)")
    elif head.last_seq > last_seq:
        problems.add(f"tail: head says last seq {head.last_seq} but the last entry is {last_seq} (entries deleted)")
    elif head.last_seq == last_seq and head.last_hash != last_hash:
        problems.add(f"tail: head's last hash does not match seq {last_seq}")
    elif head.last_seq < last_seq:
        # Entries appended while we read are fine; entries the head never heard of are not.
        current = AuditHead.objects.filter(pk=HEAD_PK).values_list("last_seq", flat=True).first() or 0
        if current < last_seq:
            problems.add(
                f"tail: head says last seq {current} but the last entry is {last_seq} (entries added outside audit_record)"
            )
    listed = problems.listed()
    return VerifyResult(ok=not listed, checked=checked, problems=listed)

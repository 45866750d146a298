"""Re-running a draw from its revealed seed (`manage.py draw_verify`; docs/experts.md, "Verification").

Checks, in order: the snapshot's SHA-256; the commitment recomputed from the seed, the draw id, the lot's
transaction code and the snapshot hash, against the stored one and against the audit trail's `draw.committed`
entry (written before anything was drawn) and `draw.revealed` entry; the snapshot's lines against the request;
and every recorded row: the expert at each position of each line is the item the stream gives there, the
positions run 0, 1, 2, … without a gap, and an item skipped as a duplicate names an expert who sits on another
row of the same draw.
"""

from dataclasses import dataclass, field

from audit.models import AuditEvent
from evaluation import draw_random
from evaluation.models import Draw, DrawnExpert, MemberStatus


@dataclass
class Row:
    specialty: str
    position: int
    recorded: int
    expected: int | None
    status: str

    @property
    def ok(self) -> bool:
        return self.recorded == self.expected


@dataclass
class Report:
    draw_id: int
    problems: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _audit_after(draw: Draw, action: str) -> dict | None:
    event = (
        AuditEvent.objects.filter(action=action, object_type="evaluation.draw", object_id=str(draw.pk)).order_by("seq").first()
    )
    return None if event is None else event.after


def verify_draw(draw: Draw) -> Report:
    report = Report(draw.pk)
    problems = report.problems
    snapshot = bytes(draw.snapshot)
    if draw_random.snapshot_hash(snapshot) != draw.snapshot_sha256:
        problems.append("snapshot: its SHA-256 differs from the recorded snapshot_sha256")
    if not draw.seed:
        problems.append("seed: not revealed yet (the committee is not fixed); nothing can be re-run")
        return report
    seed = bytes.fromhex(draw.seed)
    expected = draw_random.commitment(
        seed=seed,
        draw_id=draw.pk,
        transaction_code=draw.request.lot.transaction_code,
        eligible_hash=draw_random.snapshot_hash(snapshot),
    )
    if expected != draw.commitment:
        problems.append(f"commitment: recomputed {expected}, recorded {draw.commitment}")
    committed = _audit_after(draw, "draw.committed")
    if committed is None:
        problems.append("audit: no draw.committed entry for this draw")
    elif (committed.get("commitment"), committed.get("snapshot_sha256")) != (expected, draw_random.snapshot_hash(snapshot)):
        problems.append("audit: the draw.committed entry names another commitment or snapshot")
    revealed = _audit_after(draw, "draw.revealed")
    if revealed is None or revealed.get("seed") != draw.seed:
        problems.append("audit: the draw.revealed entry is missing or names another seed")
    try:
        lines = draw_random.decode_snapshot(snapshot)
    except ValueError as exc:
        problems.append(f"snapshot: {exc}")
        return report
    request_codes = list(draw.request.lines.order_by("position").values_list("specialty_code", flat=True))
    if [code for code, _ in lines] != request_codes:
        problems.append(f"snapshot: lines {[c for c, _ in lines]} differ from the request's {request_codes}")
    members = list(DrawnExpert.objects.filter(draw=draw).select_related("line").order_by("line__position", "position"))
    seated = {m.expert_id for m in members if m.status != MemberStatus.SKIPPED}
    for code, ids in lines:
        rows = [m for m in members if m.line.specialty_code == code]
        if [m.position for m in rows] != list(range(len(rows))):
            problems.append(f"{code}: positions {[m.position for m in rows]} are not 0..{len(rows) - 1}")
        order = draw_random.first(seed, code, ids, len(rows))
        for m in rows:
            row = Row(code, m.position, m.expert_id, order[m.position] if m.position < len(order) else None, m.status)
            report.rows.append(row)
            if not row.ok:
                problems.append(f"{code} #{m.position}: recorded expert {m.expert_id}, the stream gives {row.expected}")
            if m.status == MemberStatus.SKIPPED and m.reason == "duplicate" and m.expert_id not in seated:
                problems.append(f"{code} #{m.position}: skipped as a duplicate, but expert {m.expert_id} sits on no other row")
    return report

"""`manage.py draw_verify`: a fixed committee re-verifies from its revealed seed; any tampering is caught."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evaluation import services
from evaluation.models import Draw, DrawnExpert
from tests.evaluation import kit

pytestmark = pytest.mark.django_db


@pytest.fixture
def fixed(parties, lot, tree):
    """A committee drawn with one decline (so the backup took a seat), fixed and revealed."""
    kit.experts(9, "A0801")
    kit.experts(5, "B02")
    request = kit.request(parties, lot, lines=(("A08", 3), ("B02", 2)), backups=1)
    draw = services.draw_run(request=request, actor=parties.staff, now=kit.NOW)
    later = kit.NOW + timedelta(minutes=2)
    first = DrawnExpert.objects.get(draw=draw, line__specialty_code="A08", position=0)
    services.member_respond(member=first, actor=first.expert.user, accept=False, reason="出差", now=later)
    for member in DrawnExpert.objects.filter(draw=draw, status="invited"):
        services.member_respond(member=member, actor=member.expert.user, accept=True, now=later)
    draw.refresh_from_db()
    assert draw.seed
    return draw


def verify(draw_id) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("draw_verify", str(draw_id), stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def test_a_fixed_draw_verifies(fixed):
    code, output = verify(fixed.pk)
    assert code == 0, output
    assert output.splitlines()[-1] == "抽取复核通过 / draw verified: 7 rows"
    assert f"seed       {fixed.seed}" in output


def test_tampered_expert_fails(fixed, tree):
    intruder = kit.expert("A0801")
    row = DrawnExpert.objects.get(draw=fixed, line__specialty_code="A08", position=1)
    DrawnExpert.objects.filter(pk=row.pk).update(expert=intruder)
    code, output = verify(fixed.pk)
    assert code == 1
    assert f"A08 #1: recorded expert {intruder.pk}, the stream gives {row.expert_id}" in output
    assert "MISMATCH" in output


def test_swapped_positions_fail(fixed):
    a = DrawnExpert.objects.get(draw=fixed, line__specialty_code="B02", position=0)
    b = DrawnExpert.objects.get(draw=fixed, line__specialty_code="B02", position=1)
    DrawnExpert.objects.filter(pk=a.pk).update(position=99)
    DrawnExpert.objects.filter(pk=b.pk).update(position=0)
    DrawnExpert.objects.filter(pk=a.pk).update(position=1)
    code, output = verify(fixed.pk)
    assert code == 1 and "B02 #0" in output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "00" * 32}, "commitment: recomputed"),
        ({"commitment": "ab" * 32}, "commitment: recomputed"),
        ({"snapshot_sha256": "cd" * 32}, "snapshot: its SHA-256 differs"),
    ],
)
def test_tampered_draw_record_fails(fixed, change, message):
    Draw.objects.filter(pk=fixed.pk).update(**change)
    code, output = verify(fixed.pk)
    assert code == 1
    assert message in output


def test_rewritten_snapshot_fails_against_the_audit_trail(fixed):
    """Someone rewrites the snapshot, its hash and the commitment consistently: the audit trail still holds the
    commitment written before the draw."""
    from evaluation import draw_random

    lines = draw_random.decode_snapshot(fixed.snapshot)
    lines[0] = (lines[0][0], lines[0][1][:-1])
    snapshot = draw_random.encode_snapshot(lines)
    digest = draw_random.snapshot_hash(snapshot)
    commitment = draw_random.commitment(
        seed=bytes.fromhex(fixed.seed),
        draw_id=fixed.pk,
        transaction_code=fixed.request.lot.transaction_code,
        eligible_hash=digest,
    )
    Draw.objects.filter(pk=fixed.pk).update(snapshot=snapshot, snapshot_sha256=digest, commitment=commitment)
    code, output = verify(fixed.pk)
    assert code == 1
    assert "audit: the draw.committed entry names another commitment or snapshot" in output


def test_unrevealed_and_missing_draws(parties, lot, tree):
    kit.experts(7, "A0801")
    draw = services.draw_run(request=kit.request(parties, lot), actor=parties.staff, now=kit.NOW)
    code, output = verify(draw.pk)
    assert code == 1 and "seed: not revealed yet" in output
    assert verify(draw.pk + 1000)[0] == 2

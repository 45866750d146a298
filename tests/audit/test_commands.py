import datetime as dt
import io

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from audit.models import AuditEvent
from audit.services import audit_record
from tests.audit.tampering import tamper

T0 = dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)


def _chain(count: int) -> None:
    for i in range(1, count + 1):
        audit_record(action="lot.published", lot_id=i, now=T0)


@pytest.mark.django_db
def test_audit_verify_passes():
    _chain(3)
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue() == "审计链校验通过 / audit chain verified: 3 entries\n"


@pytest.mark.django_db
def test_audit_verify_fails_with_each_problem():
    _chain(4)
    tamper("UPDATE audit_auditevent SET lot_id = 99 WHERE seq = 1")
    tamper("DELETE FROM audit_auditevent WHERE seq = 4")
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", stdout=out)
    assert failure.value.returncode == 1
    assert str(failure.value) == "审计链校验失败 / audit chain broken: 2 problem(s) in 3 entries"
    assert out.getvalue() == (
        "seq 1: hash mismatch (entry edited)\ntail: head says last seq 4 but the last entry is 3 (entries deleted)\n"
    )
    assert AuditEvent.objects.count() == 3


# From the command line; transactional, because manage.py closes the database connections when it ends.
@pytest.mark.django_db(transaction=True)
def test_audit_verify_exit_status(capsys):
    _chain(2)
    execute_from_command_line(["manage.py", "audit_verify"])
    assert capsys.readouterr().out == "审计链校验通过 / audit chain verified: 2 entries\n"

    tamper("UPDATE audit_auditevent SET action = 'lot.forged' WHERE seq = 2")
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "audit_verify"])
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == "seq 2: hash mismatch (entry edited)\n"
    assert captured.err == "CommandError: 审计链校验失败 / audit chain broken: 1 problem(s) in 2 entries\n"

"""Tampering as a database administrator could: with the append-only triggers switched off."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def guard_off():
    """What a database administrator could do: switch the append-only triggers off, then on again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # An administrator works in a session of their own; this test's inserts still have deferred FK checks queued.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_auditevent_no_update")
            cursor.execute("DROP TRIGGER audit_auditevent_no_delete")
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute(
                "CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END"
            )
            cursor.execute(
                "CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END"
            )


def tamper(sql: str, params: list | tuple = ()) -> int:
    """Run raw SQL against the trail with the triggers off; return the number of rows it touched."""
    with guard_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount

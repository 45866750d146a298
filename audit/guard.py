"""The database itself refuses to change or remove audit events.

PostgreSQL: a row trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE.
SQLite: BEFORE UPDATE / BEFORE DELETE triggers. Either way the error is an IntegrityError whose
message is MESSAGE. A database administrator can still lift the triggers; `audit_verify` catches that.

`lifted()` exists for `manage.py flush` only (audit/management/commands/flush.py), which test teardown
uses to empty the database between transactional tests.
"""

from collections.abc import Iterator
from contextlib import contextmanager

TABLE = "audit_auditevent"
MESSAGE = "audit trail is append-only"

_PG_FUNCTION = "audit_refuse_change"
_PG_ROW_TRIGGER = "audit_auditevent_append_only"
_PG_TRUNCATE_TRIGGER = "audit_auditevent_no_truncate"
_SQLITE_TRIGGERS = {"audit_auditevent_no_update": "UPDATE", "audit_auditevent_no_delete": "DELETE"}


def _install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END
            $$""",
            f"CREATE TRIGGER {_PG_ROW_TRIGGER} BEFORE UPDATE OR DELETE ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()",
            f"CREATE TRIGGER {_PG_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {name} BEFORE {event} ON {TABLE} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            for name, event in _SQLITE_TRIGGERS.items()
        ]
    return []


def _remove_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {_PG_ROW_TRIGGER} ON {TABLE}",
            f"DROP TRIGGER IF EXISTS {_PG_TRUNCATE_TRIGGER} ON {TABLE}",
            f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()",
        ]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS]
    return []


def _execute(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection) -> None:
    _execute(connection, _install_sql(connection.vendor))


def remove(connection) -> None:
    _execute(connection, _remove_sql(connection.vendor))


@contextmanager
def lifted(connection) -> Iterator[None]:
    """Run the block with the triggers removed, then put them back.

    Only inside transaction.atomic(): DDL is transactional on both databases, so nobody else ever sees
    the table unguarded, and an error in the block rolls the removal back with everything else.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit.guard.lifted() must run inside transaction.atomic()")
    if TABLE not in connection.introspection.table_names():
        yield
        return
    remove(connection)
    yield
    install(connection)

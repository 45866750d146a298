"""`flush`, with the audit trail's append-only triggers lifted for it.

Django's flush empties tables with DELETE (SQLite) or TRUNCATE (PostgreSQL), which the triggers refuse;
test teardown of transactional tests runs it. The triggers are removed and put back in the same
transaction as the flush, so no other connection ever sees the table unguarded.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from audit import guard


class Command(flush.Command):
    help = flush.Command.help + " The audit trail is emptied too."

    def handle(self, **options):
        database = options["database"]
        with transaction.atomic(using=database), guard.lifted(connections[database]):
            super().handle(**options)

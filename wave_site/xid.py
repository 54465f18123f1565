"""Transaction ids, the exact way to read an append-only table incrementally.

A row stamped with the id of the transaction that inserted it (`TransactionId()`, a column default)
can be read by a cursor over those ids: every transaction whose id is below the oldest one still
running (`settled_xid()`) has committed or aborted, so no row below it can appear later, however long
a transaction took between its insert and its commit. Ids (64-bit `xid8`) never wrap.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BigIntegerField, Func


class TransactionId(Func):
    """The id of the current transaction, as a bigint."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = BigIntegerField()

    def __init__(self) -> None:
        super().__init__()


def settled_xid() -> int:
    """An id below which every transaction has ended: rows stamped below it are all there is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]

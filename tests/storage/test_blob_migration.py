"""builds 0007 moves the bytes of existing StoredBlob rows from Postgres to the object store, and
back when it is reversed; on the test database, migrated back and forth."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from oci.digest import sha256_digest
from wave_site.storage import store

BEFORE = [("builds", "0006_storedblob_from_containers")]
AFTER = [("builds", "0007_storedblob_bytes_in_the_store")]


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


@pytest.mark.django_db(transaction=True)
def test_existing_bytes_move_to_the_store_and_back():
    blobs = [os.urandom(size) for size in (0, 1, 3 << 20)]
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            for data in blobs:
                cursor.execute("INSERT INTO containers_storedblob (digest, size, tar_digest, locations, data, created_at) "
                               "VALUES (%s, %s, '', '[]', %s, now())", [sha256_digest(data), len(data), data])
        migrate(AFTER)
        with connection.cursor() as cursor:
            cursor.execute("SELECT digest, key FROM containers_storedblob")
            keys = dict(cursor.fetchall())
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'containers_storedblob'")
            assert "data" not in {name for (name,) in cursor.fetchall()}
        for data in blobs:
            key = keys[sha256_digest(data)]
            assert key.startswith(f"blobs/sha256/{sha256_digest(data).removeprefix('sha256:')}/")
            assert store().read_bytes(key) == data

        migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute("SELECT digest, data FROM containers_storedblob")
            assert {digest: bytes(data) for digest, data in cursor.fetchall()} == {sha256_digest(d): d for d in blobs}
    finally:  # the latest schema again, later migrations (builds 0008) included: the rest of the suite needs it
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        for key in keys.values() if "keys" in locals() else ():
            store().delete(key)

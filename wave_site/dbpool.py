"""A web process's database pool swept for connections a Postgres restart cut.

The pool checks each connection as it hands it out (`CONN_HEALTH_CHECKS`), but psycopg_pool backs
off after every failed check (1 s, 2 s, 4 s ...): a request that met a pool full of dead connections
waited through one back-off per dead connection and failed at the pool's 10 s timeout with four of
them. So a thread checks every idle connection every SWEEP_EVERY seconds (`ConnectionPool.check`,
an empty query each) and the pool replaces the broken ones before a request meets them.
"""

from __future__ import annotations

import logging
import threading

from django.db import connections
from psycopg_pool import PoolClosed

log = logging.getLogger(__name__)
SWEEP_EVERY = 2.0  # seconds


def sweep_once() -> None:
    for alias in connections:
        pool = connections[alias].pool
        if pool is None or pool.closed:  # not opened yet: no connection to check
            continue
        try:
            pool.check()
        except PoolClosed:
            pass
        except Exception:  # noqa: BLE001 (the sweeper must outlive whatever one round meets)
            log.exception("checking the database pool's connections failed")


def start_sweeper(stop: threading.Event | None = None) -> threading.Thread:
    stop = stop or threading.Event()

    def run() -> None:
        while not stop.wait(SWEEP_EVERY):
            sweep_once()

    thread = threading.Thread(target=run, daemon=True, name="db-pool-sweeper")
    thread.start()
    return thread

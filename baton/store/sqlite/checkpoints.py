"""WAL checkpoints in a thread of their own, never inside a request's COMMIT."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)


class _Checkpointer:
    """Copies the WAL into the database file from a thread of its own, on its own connection.

    With SQLite's automatic checkpoint, the COMMIT that crosses the threshold
    copies the log and fsyncs the file, on the event loop: a few milliseconds
    that every request waiting behind it pays. Here that work (and the only
    fsyncs; WAL commits under synchronous=NORMAL make none) happens beside the
    loop, and sqlite3 releases the GIL while it does.
    """

    def __init__(self, path: str, *, interval_s: float = 0.1, truncate_above_bytes: int = 64 << 20) -> None:
        self._path = path
        self._wal = path + "-wal"
        self._interval_s = interval_s
        self._truncate_above = truncate_above_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baton-sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("no background WAL checkpoints: %s", exc)
            return
        try:
            # Short: a checkpoint that finds the writer busy gives up and comes back, it never queues behind it.
            conn.execute("PRAGMA busy_timeout = 50")
            while not self._stop.wait(self._interval_s):
                try:
                    self._checkpoint(conn)
                except sqlite3.Error as exc:  # busy or locked: the next round will do
                    log.debug("WAL checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            wal_bytes = os.path.getsize(self._wal)
        except OSError:
            return
        if wal_bytes > self._truncate_above:
            # Bounds the file: once a reader held the log open past a restart it may have grown; this
            # waits (briefly, see busy_timeout) for the writer and empties it.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        else:
            # PASSIVE: copies what it can without taking a lock anyone waits on; the next writer
            # then starts the log over, so its size stays near what is written between two rounds.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

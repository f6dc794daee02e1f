"""WAL checkpoints in a thread of their own, never inside a request's COMMIT."""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import NamedTuple

log = logging.getLogger(__name__)

JOURNAL_SIZE_LIMIT_BYTES = 64 << 20
"""What the WAL file is cut back to when the writer starts it over (``PRAGMA journal_size_limit``): a reader that
held the log open through many commits lets it grow past this, and the next start-over shrinks it."""


class Checkpointer:
    """Copies the WAL into the database file from a thread of its own, on its own connection.

    With SQLite's automatic checkpoint, the COMMIT that crosses the threshold
    copies the log and fsyncs the file, on the event loop: a few milliseconds
    that every request waiting behind it pays. Here that work (and the only
    fsyncs; WAL commits under synchronous=NORMAL make none) happens beside the
    loop, and sqlite3 releases the GIL while it does. Only PASSIVE checkpoints:
    every other kind holds the write lock while it copies, and the event loop's
    next BEGIN IMMEDIATE would wait for it (``JOURNAL_SIZE_LIMIT_BYTES`` bounds
    the file instead).
    """

    def __init__(self, path: str, *, interval_s: float = 0.1) -> None:
        self._path = path
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._written = threading.Event()
        self._written.set()  # opening may have written (migrations)
        self._thread = threading.Thread(target=self._run, name="baton-sqlite-checkpoint", daemon=True)
        self.rounds = 0
        """How many checkpoints ran (for tests and diagnostics)."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._written.set()
        self._thread.join()

    def note_commit(self) -> None:
        """A COMMIT appended to the log: a checkpoint follows within the interval (an idle store makes none)."""
        if not self._written.is_set():  # set() takes a lock; most commits find it set already
            self._written.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("no background WAL checkpoints: %s", exc)
            return
        try:
            while not self._stop.is_set():
                self._written.wait()
                self._written.clear()  # a COMMIT from here on asks for another round
                if self._stop.wait(self._interval_s):  # the interval gathers commits; stop() ends it at once
                    break
                try:
                    if not checkpoint(conn).whole:
                        self._written.set()  # a reader still needs part of the log: again next round
                except sqlite3.Error as exc:  # the next round will do
                    self._written.set()
                    log.debug("WAL checkpoint skipped: %s", exc)
                self.rounds += 1
        finally:
            conn.close()


class Checkpoint(NamedTuple):
    busy: bool
    """Kept from running at all: another checkpoint was running."""
    whole: bool
    """Everything the log holds is in the database file now."""


def checkpoint(conn: sqlite3.Connection) -> Checkpoint:
    """Copy into the database file what the log holds that no reader still needs, taking no lock a writer waits
    on. The writer starts the log over after a checkpoint that copied it all, and then cuts the file back to
    ``JOURNAL_SIZE_LIMIT_BYTES``."""
    (busy, log_frames, copied_frames) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return Checkpoint(bool(busy), not busy and log_frames == copied_frames)

"""The write-behind writer: the relay hands records over and never waits for the database.

``submit`` appends to an in-memory queue and returns; two background tasks do the rest:

- the *database task* writes batches (flushed when ``batch_size`` records are waiting or
  ``flush_interval`` after the first one), one transaction each;
- the *spill task* moves the queue to the journal file when it grows past ``max_buffer``, so memory
  stays bounded while the database is down or slow.

Records reach the database in the order they were submitted: first the batch in flight, then the
journal (older records), then the queue. When the database is unreachable the batch in flight is retried
with exponential backoff; when it is back the journal is replayed, then the queue. A record the database
refuses for what it is (an integrity error, bad data) is isolated from its batch, counted as
``rejected``, logged, and kept in ``<journal>.rejected``. Records are ``lost`` only in the last resort,
each one counted and logged: the queue is at ``hard_limit`` while the journal fails (disk full) or there
is no journal (then ``max_buffer`` is the limit: configure a journal in production), a journal line is
unreadable, or a record arrives after ``stop``. Every state change is logged.

Every write is idempotent (``voxgate.store.apply``), so the at-least-once delivery of retries and
replays stores each record exactly once.

``stop(timeout)`` drains everything it can; what the database did not take by the deadline goes to the
journal, which the next ``start`` replays first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from voxgate.store.apply import apply_records
from voxgate.store.journal import Journal, JournalEntry, dead_letter_path, write_dead_letter
from voxgate.store.records import Record

log = logging.getLogger("voxgate.store.writer")

WriterState = Literal["stopped", "ok", "retrying"]


@dataclass(frozen=True, slots=True)
class WriterStats:
    state: WriterState
    submitted: int
    written: int
    batches: int
    retries: int
    spilled: int
    replayed: int
    rejected: int
    lost: int
    queue_depth: int
    """Records in memory (the queue and the batch in flight)."""
    journal_depth: int
    """Records in the journal, waiting to be replayed."""


class _RetryLater(Exception):
    """A failure that says nothing about the records (database or journal unavailable): retry them later."""


# SQLSTATE classes that say nothing about the data: connection exceptions, insufficient resources,
# operator intervention (shutdown, "starting up"), system errors; and single codes worth retrying.
_TRANSIENT_SQLSTATE_CLASSES: Final = frozenset({"08", "53", "57", "58"})
_TRANSIENT_SQLSTATES: Final = frozenset({"40001", "40P01", "55P03", "3D000"})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database is not reachable right now" rather than "bad record"."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        code = getattr(exc.orig, "sqlstate", None)
        return isinstance(code, str) and (
            code[:2] in _TRANSIENT_SQLSTATE_CLASSES or code in _TRANSIENT_SQLSTATES
        )
    # OSError / TimeoutError: a refused or timed-out connect can surface unwrapped from the driver.
    return isinstance(exc, PoolTimeoutError | OSError | TimeoutError)


class StoreWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        journal_path: Path | str | None = None,
        batch_size: int = 200,
        flush_interval: float = 0.2,
        max_buffer: int = 10_000,
        hard_limit: int | None = None,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
    ) -> None:
        if batch_size < 1 or max_buffer < 1:
            raise ValueError("batch_size and max_buffer must be at least 1")
        self._engine = engine
        self._journal = Journal(Path(journal_path)) if journal_path is not None else None
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_buffer = max_buffer
        # Past max_buffer the spill task empties the queue as fast as the disk allows (each spill takes
        # all that accumulated meanwhile), so with a working journal nothing is ever dropped. hard_limit
        # only guards memory while the journal is failing; without a journal, max_buffer is the limit.
        self._hard_limit = hard_limit or (4 * max_buffer if self._journal else max_buffer)
        self._journal_failing = False
        self._spilling_episode = False  # spilled since the journal was last empty
        self._retry_initial = retry_initial
        self._retry_max = retry_max

        self._buffer: deque[Record] = deque()
        self._inflight: list[Record] = []  # taken from the buffer, not yet committed
        self._spilling = False

        self._wake = asyncio.Event()  # database task: work arrived / batch full / stop / flush
        self._overflow = asyncio.Event()  # spill task: buffer past max_buffer / stop
        self._idle = asyncio.Event()  # nothing left to write
        self._idle.set()
        self._spill_done = asyncio.Event()
        self._spill_done.set()
        self._spill_stop = asyncio.Event()

        self._db_task: asyncio.Task[None] | None = None
        self._spill_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._closed = False
        self._urgent = False
        self._state: WriterState = "stopped"

        self._submitted = self._written = self._batches = self._retries = 0
        self._spilled = self._replayed = self._rejected = self._lost = 0
        self._failed_attempts = 0

    # -- the hot path ------------------------------------------------------------------------------

    def submit(self, record: Record) -> None:
        """Queue ``record`` for writing. Never awaits, never blocks, never raises for a full queue."""
        if self._closed:
            self._lose(1, "submitted after the writer stopped")
            return
        if len(self._buffer) >= self._hard_limit and (self._journal is None or self._journal_failing):
            self._lose(1, f"the in-memory queue is at its hard limit ({self._hard_limit}) and cannot spill")
            return
        self._buffer.append(record)
        self._submitted += 1
        self._idle.clear()
        depth = len(self._buffer)
        if depth == 1 or depth >= self._batch_size:
            self._wake.set()
        if depth > self._max_buffer and self._journal is not None:
            self._overflow.set()

    @property
    def queue_depth(self) -> int:
        return len(self._buffer) + len(self._inflight)

    def stats(self) -> WriterStats:
        return WriterStats(
            state=self._state,
            submitted=self._submitted,
            written=self._written,
            batches=self._batches,
            retries=self._retries,
            spilled=self._spilled,
            replayed=self._replayed,
            rejected=self._rejected,
            lost=self._lost,
            queue_depth=self.queue_depth,
            journal_depth=self._journal.pending if self._journal else 0,
        )

    # -- life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._db_task is not None:
            raise RuntimeError("StoreWriter.start() called twice")
        if self._journal is not None:
            leftover = await self._journal.load()
            if leftover:
                log.warning(
                    "journal %s holds %d records from an earlier run; replaying them first",
                    self._journal.path,
                    leftover,
                )
                self._idle.clear()
        self._state = "ok"
        self._db_task = asyncio.create_task(self._run_database(), name="voxgate-store-writer")
        self._spill_task = asyncio.create_task(self._run_spill(), name="voxgate-store-spill")
        self._db_task.add_done_callback(_report_crash)
        self._spill_task.add_done_callback(_report_crash)

    async def flush(self) -> None:
        """Wait until everything submitted so far is in the database (waits through an outage)."""
        if self._db_task is None or self._db_task.done():
            raise RuntimeError("the writer is not running")
        self._urgent = True
        self._wake.set()
        await self._idle.wait()

    async def stop(self, timeout: float = 10.0) -> None:
        """Write out everything within ``timeout`` seconds; keep the rest in the journal for next start."""
        if self._closed:
            return
        self._stopping = True
        self._wake.set()
        if self._db_task is not None:
            done, _ = await asyncio.wait({self._db_task}, timeout=timeout)
            if not done:
                # Cancelling keeps the batch in flight in memory (it was not committed, or is
                # harmlessly written again on replay); _keep_the_rest journals it.
                self._db_task.cancel()
                await asyncio.wait({self._db_task})
        if self._spill_task is not None:
            self._spill_stop.set()
            self._overflow.set()
            await asyncio.wait({self._spill_task})  # a spill in progress completes first
        self._closed = True
        self._state = "stopped"
        await self._keep_the_rest()

    async def _keep_the_rest(self) -> None:
        inflight, rest = self._inflight, list(self._buffer)
        self._inflight, self._buffer = [], deque()
        count = len(inflight) + len(rest)
        if not count:
            log.info("store writer stopped: everything written")
            return
        if self._journal is None:
            self._lose(count, "the database did not take them before shutdown and there is no journal")
            return
        kept = 0
        for records, keep in ((inflight, self._journal.prepend), (rest, self._journal.append)):
            if not records:  # inflight is older than anything in the journal, hence prepend
                continue
            try:
                await keep(records)
            except OSError as exc:
                self._lose(len(records), f"the journal {self._journal.path} failed at shutdown: {exc}")
            else:
                kept += len(records)
        if not kept:
            return
        self._spilled += kept
        log.warning(
            "store writer stopped with %d records not written; they are in %s and will be "
            "replayed at the next start",
            kept,
            self._journal.path,
        )

    # -- the database task -------------------------------------------------------------------------

    async def _run_database(self) -> None:
        delay = self._retry_initial
        while True:
            source = await self._next_source()
            if source is None:
                return
            try:
                await self._write_from(source)
            except _RetryLater as exc:
                self._on_unavailable(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            if self._state == "retrying":
                self._on_back()
                delay = self._retry_initial
            if self._nothing_left():
                if self._journal is not None:
                    await self._remove_drained_journal(self._journal)
                if self._nothing_left():  # a spill may have come in while the file was removed
                    self._urgent = False
                    self._idle.set()

    async def _remove_drained_journal(self, journal: Journal) -> None:
        try:
            removed = await journal.remove_if_drained()
        except OSError as exc:  # harmless: the next spill appends after the replayed lines
            log.warning("could not remove the replayed journal %s: %s", journal.path, exc)
            return
        if removed:
            self._spilling_episode = False
            log.info(
                "journal replay complete (%d records replayed so far); removed %s",
                self._replayed,
                journal.path,
            )

    def _nothing_left(self) -> bool:
        return not (self._inflight or self._buffer or self._spilling or self._journal_pending())

    def _journal_pending(self) -> int:
        return self._journal.pending if self._journal is not None else 0

    async def _next_source(self) -> Literal["inflight", "journal", "buffer"] | None:
        """Wait for something to write; ``None`` when stopping and nothing is left."""
        window_done = False
        while True:
            if self._inflight:
                return "inflight"
            if self._spilling:  # records are on their way to the journal: they go before the queue
                await self._spill_done.wait()
                continue
            if self._journal_pending():
                return "journal"
            if self._buffer:
                if window_done or self._stopping or self._urgent or len(self._buffer) >= self._batch_size:
                    return "buffer"
                # Give the batch a moment to fill up; a full batch, stop or flush cuts it short.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._flush_interval):
                        await self._wake.wait()
                window_done = True
                continue
            if self._stopping:
                return None
            self._wake.clear()
            await self._wake.wait()

    async def _write_from(self, source: Literal["inflight", "journal", "buffer"]) -> None:
        if source == "journal":
            assert self._journal is not None
            journal = self._journal
            try:
                entries = await journal.read(self._batch_size)
            except OSError as exc:
                raise _RetryLater(f"the journal {journal.path} cannot be read: {exc}") from exc
            position = 0

            def consume_journal(count: int) -> None:
                nonlocal position
                done = entries[position : position + count]
                position += count
                journal.advance(done)
                self._replayed += sum(1 for entry in done if entry.record is not None)
                self._lose_unreadable(done)

            await self._write([entry.record for entry in entries], consume_journal)
            return
        if source == "buffer":
            take = min(self._batch_size, len(self._buffer))
            self._inflight = [self._buffer.popleft() for _ in range(take)]

        def consume_inflight(count: int) -> None:
            del self._inflight[:count]

        await self._write(list(self._inflight), consume_inflight)

    async def _commit(self, records: Sequence[Record]) -> None:
        """Write ``records`` in one transaction.

        Raises ``_RetryLater`` for failures that are not about the records (anything while
        connecting, a transient error while writing); other errors propagate: the records were refused.
        """
        try:
            conn = await self._engine.connect()
        except Exception as exc:  # e.g. an unknown database: a setup problem, never the records' fault
            raise _RetryLater(_short(exc)) from exc
        try:
            try:
                await conn.begin()
            except Exception as exc:
                raise _RetryLater(_short(exc)) from exc
            try:
                await apply_records(conn, records)
                await conn.commit()
            except Exception as exc:
                if is_transient(exc):
                    raise _RetryLater(_short(exc)) from exc
                raise
        finally:
            # Closing rolls back what was not committed; on a dead connection it may fail as well,
            # and that failure adds nothing to the one being reported.
            with contextlib.suppress(Exception):
                await conn.close()

    async def _write(self, items: Sequence[Record | None], consume: Callable[[int], None]) -> None:
        """Write ``items`` in one transaction, or one by one when the batch holds a refused record.

        ``consume(n)`` marks the next ``n`` items as done (written, rejected or unreadable).
        Raises ``_RetryLater``: the remaining items stay to be retried.
        """
        records = [item for item in items if item is not None]
        try:
            if records:
                await self._commit(records)
        except _RetryLater:
            raise
        except Exception as exc:
            log.warning(
                "a batch of %d records was refused (%s); writing them one by one", len(records), _short(exc)
            )
            await self._write_one_by_one(items, consume)
            return
        if records:
            self._written += len(records)
            self._batches += 1
        consume(len(items))

    async def _write_one_by_one(self, items: Sequence[Record | None], consume: Callable[[int], None]) -> None:
        for item in items:
            if item is not None:
                try:
                    await self._commit([item])
                except _RetryLater:
                    raise
                except Exception as exc:
                    await self._reject(item, exc)
                else:
                    self._written += 1
                    self._batches += 1
            consume(1)

    async def _reject(self, record: Record, exc: Exception) -> None:
        self._rejected += 1
        reason = _short(exc)
        log.error("the database refused a %s record (%s): %r", type(record).__name__, reason, record)
        if self._journal is not None:
            path = dead_letter_path(self._journal.path)
            try:
                await write_dead_letter(path, record, reason)
            except OSError as write_error:
                log.error("could not keep the refused record in %s: %s", path, write_error)

    def _on_unavailable(self, exc: _RetryLater) -> None:
        self._retries += 1
        self._failed_attempts += 1
        if self._state != "retrying":
            self._state = "retrying"
            log.warning(
                "database unavailable (%s); keeping records (%d in memory) and retrying",
                exc,
                self.queue_depth,
            )
        else:
            log.debug("database still unavailable (attempt %d): %s", self._failed_attempts, exc)

    def _on_back(self) -> None:
        log.info(
            "database is back after %d failed attempts; %d records in the journal to replay, %d in memory",
            self._failed_attempts,
            self._journal_pending(),
            self.queue_depth,
        )
        self._state = "ok"
        self._failed_attempts = 0

    # -- the spill task ----------------------------------------------------------------------------

    async def _run_spill(self) -> None:
        journal = self._journal
        while True:
            await self._overflow.wait()
            self._overflow.clear()
            if self._spill_stop.is_set():
                return
            if journal is None or len(self._buffer) <= self._max_buffer:
                continue
            # Everything in the queue moves, oldest first: the database task takes it back from the
            # journal before anything newer.
            chunk = list(self._buffer)
            self._buffer.clear()
            self._spilling = True
            self._spill_done.clear()
            try:
                await journal.append(chunk)
            except OSError as exc:
                # Put them back in front; the queue's hard limit is now the only guard, and past it
                # new records are lost (counted).
                self._journal_failing = True
                self._buffer.extendleft(reversed(chunk))
                log.error(
                    "could not spill %d records to the journal %s (%s); keeping them in memory",
                    len(chunk),
                    journal.path,
                    exc,
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._retry_max):
                        await self._spill_stop.wait()
                self._overflow.set()
            else:
                if self._journal_failing:
                    log.warning("the journal %s takes records again", journal.path)
                    self._journal_failing = False
                self._spilled += len(chunk)
                # The first spill is the state change worth a warning; the ones that follow are detail
                # until the replay completes (logged by the database task).
                level = logging.DEBUG if self._spilling_episode else logging.WARNING
                self._spilling_episode = True
                log.log(
                    level,
                    "memory bound (%d) exceeded: spilled %d records to %s (%d waiting there)",
                    self._max_buffer,
                    len(chunk),
                    journal.path,
                    journal.pending,
                )
            finally:
                self._spilling = False
                self._spill_done.set()
                self._wake.set()

    # -- losses ------------------------------------------------------------------------------------

    def _lose(self, count: int, why: str) -> None:
        self._lost += count
        # Hot path: log the first loss and then every thousandth, not every record.
        if self._lost == count or self._lost // 1000 != (self._lost - count) // 1000:
            log.error("LOST %d records: %s (%d lost in total)", count, why, self._lost)

    def _lose_unreadable(self, entries: Sequence[JournalEntry]) -> None:
        for entry in entries:
            if entry.record is None:
                self._lost += 1
                log.error("LOST a record: unreadable journal line %r", entry.raw[:200])


def _report_crash(task: asyncio.Task[None]) -> None:
    # Only a bug ends these tasks with an exception; say so loudly rather than go quiet.
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.critical(
            "store writer task %s crashed; records are no longer written", task.get_name(), exc_info=exc
        )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]

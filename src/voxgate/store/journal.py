"""The spill journal: records the database could not take yet, one JSON line each, replayed in order.

The file is append-only while in use. A read offset marks the first line not yet in the database; when
every line has been replayed the file is removed. The offset lives in memory only: after a crash the
whole file is replayed again, which is harmless because writing a record twice changes nothing
(``voxgate.store.apply``).

File I/O runs in a worker thread so the event loop (and the relay on it) never waits for the disk.
Only the writer's two tasks use a journal, and state is changed on the event loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from voxgate.store.records import Record, RecordDecodeError, from_json, to_json


@dataclass(frozen=True, slots=True)
class JournalEntry:
    record: Record | None
    """``None`` when the line could not be decoded (e.g. cut short by a crash)."""
    raw: bytes
    end: int
    """The file offset just past this line."""


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending = 0
        """Lines not yet replayed."""
        self._offset = 0  # start of the first line not yet replayed
        self._size = 0  # end of the last complete line written
        self._lock = asyncio.Lock()  # one file mutation at a time (append, prepend, remove)

    async def load(self) -> int:
        """Take over a journal left by an earlier run; returns how many lines it holds."""
        async with self._lock:
            self._size, self.pending = await asyncio.to_thread(self._load)
            self._offset = 0
            return self.pending

    def _load(self) -> tuple[int, int]:
        if not self.path.exists():
            return 0, 0
        with self.path.open("r+b") as file:
            data = file.read()
            if data and not data.endswith(b"\n"):
                # A line cut short by a crash: end it so that it stays one (undecodable) line.
                file.write(b"\n")
                data += b"\n"
        return len(data), data.count(b"\n")

    async def append(self, records: Sequence[Record]) -> None:
        """Add ``records`` at the end, durably.

        Raises ``OSError`` (e.g. disk full) and then leaves the file as it was.
        """
        data = b"".join(to_json(record) for record in records)
        async with self._lock:
            await asyncio.to_thread(self._write_at, self._size, data)
            self._size += len(data)
            self.pending += len(records)

    def _write_at(self, position: int, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                os.lseek(fd, position, os.SEEK_SET)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                # Remove the partial tail so that the next append starts on a line boundary.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, position)
                raise
            # Anything past the new end is the tail of an earlier failed write: not ours any more.
            os.ftruncate(fd, position + len(data))
        finally:
            os.close(fd)

    async def read(self, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` lines from the read offset; ``advance`` marks them replayed."""
        if self.pending == 0:
            return []
        return await asyncio.to_thread(self._read, self._offset, self._size, limit)

    def _read(self, start: int, end: int, limit: int) -> list[JournalEntry]:
        entries: list[JournalEntry] = []
        with self.path.open("rb") as file:
            file.seek(start)
            position = start
            while position < end and len(entries) < limit:
                line = file.readline(end - position)
                position += len(line)
                try:
                    record: Record | None = from_json(line)
                except RecordDecodeError:
                    record = None
                entries.append(JournalEntry(record, line, position))
        return entries

    def advance(self, entries: Sequence[JournalEntry]) -> None:
        """``entries`` (the next lines, as returned by ``read``) are in the database now."""
        if entries:
            self._offset = entries[-1].end
            self.pending -= len(entries)

    async def remove_if_drained(self) -> bool:
        """Delete the file once every line is replayed; the next spill starts a new one."""
        async with self._lock:
            if self.pending or self._size == 0:
                return False
            await asyncio.to_thread(self.path.unlink, missing_ok=True)
            self._offset = self._size = 0
            return True

    async def prepend(self, records: Sequence[Record]) -> None:
        """Put ``records`` before every line not yet replayed (shutdown only: rewrites the file)."""
        data = b"".join(to_json(record) for record in records)
        async with self._lock:
            self._size = await asyncio.to_thread(self._rewrite_with_head, data, self._offset, self._size)
            self._offset = 0
            self.pending += len(records)

    def _rewrite_with_head(self, head: bytes, start: int, end: int) -> int:
        rest = b""
        if self.path.exists():
            with self.path.open("rb") as file:
                file.seek(start)
                rest = file.read(end - start)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as file:
            file.write(head + rest)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        return len(head) + len(rest)


def dead_letter_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".rejected")


async def write_dead_letter(path: Path, record: Record, reason: str) -> None:
    """Keep a record the database refused (bad data, not an outage) for a person to look at."""
    line = orjson.dumps(
        {"reason": reason, "record": orjson.loads(to_json(record))}, option=orjson.OPT_APPEND_NEWLINE
    )
    await asyncio.to_thread(_append_line, path, line)


def _append_line(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as file:
        file.write(line)

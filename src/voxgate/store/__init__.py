"""Storage: SQLAlchemy models, engines, migrations, the write-behind writer and read helpers.

=================  ====================================================================
module             job
=================  ====================================================================
``models``         the schema (conversation records and business data)
``engine``         ``create_engine(url)`` and ``session_factory(engine)``
``migrate``        ``upgrade(url)`` / ``downgrade(url, revision)`` with the bundled Alembic
``records``        what the gateway submits to the writer (small frozen dataclasses)
``writer``         ``StoreWriter``: bounded queue, batches, retries, spill journal
``apply``          how each record becomes idempotent SQL (used by the writer)
``journal``        the append-only spill file (used by the writer)
``booking``        appointments whose slots the database keeps from overlapping
``queries``        read helpers for the REST API
=================  ====================================================================
"""

from voxgate.store.engine import DatabaseURLError, create_engine, session_factory
from voxgate.store.records import (
    CallRecord,
    CallStatus,
    EventBlock,
    EventRecord,
    Record,
    RecordingRecord,
    SessionEnded,
    SessionStarted,
    ToolCallRecord,
    TranscriptRecord,
    TranscriptTruncated,
    UsageRecord,
)
from voxgate.store.writer import StoreWriter, WriterStats

__all__ = [
    "CallRecord",
    "CallStatus",
    "DatabaseURLError",
    "EventBlock",
    "EventRecord",
    "Record",
    "RecordingRecord",
    "SessionEnded",
    "SessionStarted",
    "StoreWriter",
    "ToolCallRecord",
    "TranscriptRecord",
    "TranscriptTruncated",
    "UsageRecord",
    "WriterStats",
    "create_engine",
    "session_factory",
]

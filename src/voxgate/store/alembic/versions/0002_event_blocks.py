"""Events stored in blocks: one row per session and second, unpacked by an ``events`` view.

The ``events`` table (a row per relayed event) becomes ``event_blocks`` (a row per block of consecutive
events, the events as a JSON array), and ``events`` becomes a view with the old columns, so SQL that read
the table still reads it. Existing rows are moved, in blocks of consecutive seq; the downgrade moves them
back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from voxgate.store.models import UTCDateTime

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK_EVENTS = 500
"""Old rows per moved block."""

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_events = sa.table(
    "events",
    sa.column("session_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("direction", sa.String()),
    sa.column("type", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("at", UTCDateTime()),
)
_blocks = sa.table(
    "event_blocks",
    sa.column("session_id", sa.String()),
    sa.column("first_seq", sa.Integer()),
    sa.column("last_seq", sa.Integer()),
    sa.column("at", UTCDateTime()),
    sa.column("events", sa.JSON()),
)

# One row per event, from the blocks. SQLite: json_each; PostgreSQL: json_array_elements. Times are the
# ISO 8601 text the gateway wrote (UTC), typed as timestamptz on PostgreSQL.
_VIEW = {
    "sqlite": """
        CREATE VIEW events AS
        SELECT b.session_id AS session_id,
               json_extract(e.value, '$.seq') AS seq,
               json_extract(e.value, '$.direction') AS direction,
               json_extract(e.value, '$.type') AS type,
               json_extract(e.value, '$.payload') AS payload,
               json_extract(e.value, '$.at') AS at
        FROM event_blocks AS b, json_each(b.events) AS e
    """,
    "postgresql": """
        CREATE VIEW events AS
        SELECT b.session_id AS session_id,
               (e.value ->> 'seq')::integer AS seq,
               e.value ->> 'direction' AS direction,
               e.value ->> 'type' AS type,
               e.value -> 'payload' AS payload,
               (e.value ->> 'at')::timestamptz AS at
        FROM event_blocks AS b, json_array_elements(b.events) AS e
    """,
}


def upgrade() -> None:
    op.create_table(
        "event_blocks",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.CheckConstraint("first_seq <= last_seq", name=op.f("ck_event_blocks_seq_range")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_event_blocks_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_blocks")),
        sa.UniqueConstraint("session_id", "first_seq", name=op.f("uq_event_blocks_session_id_first_seq")),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(_events).order_by(_events.c.session_id, _events.c.seq)).all()
    blocks = list(_blocks_of(iter(rows)))
    for start in range(0, len(blocks), 100):
        bind.execute(sa.insert(_blocks), blocks[start : start + 100])
    op.drop_index(op.f("ix_events_type"), table_name="events")
    op.drop_table("events")
    op.execute(_VIEW[bind.dialect.name])


def downgrade() -> None:
    op.execute("DROP VIEW events")
    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("type", sa.String(length=96), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_events_direction")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_events_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("session_id", "seq", name=op.f("uq_events_session_id_seq")),
    )
    op.create_index(op.f("ix_events_type"), "events", ["type"])
    bind = op.get_bind()
    blocks = bind.execute(sa.select(_blocks).order_by(_blocks.c.session_id, _blocks.c.first_seq)).all()
    for block in blocks:
        rows = [
            {
                "session_id": block.session_id,
                "seq": event["seq"],
                "direction": event["direction"],
                "type": event["type"][:96],
                "payload": event["payload"],
                "at": _utc(datetime.fromisoformat(event["at"])),
            }
            for event in block.events
        ]
        if rows:
            bind.execute(sa.insert(_events), rows)
    op.drop_table("event_blocks")


def _blocks_of(rows: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """Old event rows (ordered by session and seq) as blocks of up to ``BLOCK_EVENTS`` consecutive seq."""
    current: list[Any] = []
    for row in rows:
        if current and (
            row.session_id != current[0].session_id
            or row.seq != current[-1].seq + 1
            or len(current) >= BLOCK_EVENTS
        ):
            yield _block(current)
            current = []
        current.append(row)
    if current:
        yield _block(current)


def _block(rows: list[Any]) -> dict[str, Any]:
    return {
        "session_id": rows[0].session_id,
        "first_seq": rows[0].seq,
        "last_seq": rows[-1].seq,
        "at": rows[0].at,
        "events": [
            {
                "seq": row.seq,
                "direction": row.direction,
                "type": row.type,
                "at": _utc(row.at).isoformat(),
                "payload": row.payload,
            }
            for row in rows
        ],
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""Recording, analytics, metrics and the dashboard, against real servers and real databases.

The gateway-in-front-of-the-simulator fixtures are the integration tests'; the phone fixtures the
phone tests'; the database fixtures (SQLite and a throwaway PostgreSQL database) the store tests'.
"""

from __future__ import annotations

from dbfixtures import backend, db_url, engine, migrated_url, pg_prefix, sessions
from integration.conftest import gateway, make_gateway, simulator
from phone.conftest import make_phone, twilio_api

__all__ = [
    "backend",
    "db_url",
    "engine",
    "gateway",
    "make_gateway",
    "make_phone",
    "migrated_url",
    "pg_prefix",
    "sessions",
    "simulator",
    "twilio_api",
]

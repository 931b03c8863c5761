"""Constants of the admin API tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

NOW = datetime(2030, 3, 4, 7, 0, tzinfo=UTC)
"""Monday 4 March 2030, 09:00 in Bucharest."""
ADMIN_KEY = "admin-key-for-tests-0123456789"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)

ClientFactory = Callable[..., TestClient]

"""Suite-wide policy: services that are down skip their tests, unless VOXGATE_REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import os
import socket

import pytest


def service_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is down; in CI (VOXGATE_REQUIRE_SERVICES=1) fail instead."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("VOXGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and VOXGATE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)

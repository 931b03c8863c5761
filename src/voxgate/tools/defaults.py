"""The registry the gateway runs with unless one is injected: every shipped agent's tools."""

from __future__ import annotations

from voxgate.tools import bartender, phone_tools, salon
from voxgate.tools.registry import ToolRegistry


def default_registry() -> ToolRegistry:
    registry = ToolRegistry()
    bartender.register(registry)
    salon.register(registry)
    phone_tools.register(registry)
    return registry

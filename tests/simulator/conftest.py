"""Fixtures: a real simulator on a free loopback port (see ``simkit`` for the helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from simkit import RunningSimulator, running_simulator

from voxgate.simulator import SimulatorOptions


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    async with running_simulator() as running:
        yield running


@pytest.fixture
def start_simulator() -> Callable[[SimulatorOptions], AbstractAsyncContextManager[RunningSimulator]]:
    """Start another simulator with its own options: ``async with start_simulator(options) as sim``."""
    return running_simulator

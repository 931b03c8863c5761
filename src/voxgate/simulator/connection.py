"""The only place the simulator awaits a socket: one WebSocket driven by one ``RealtimeEngine``.

A reader task turns frames into commands; the control API adds its own (drop, error, delay); the
loop hands each command with the current time to the engine, and calls ``advance`` when the
engine's next deadline comes, then carries out the actions it returns. A ``Work`` action (speech
to synthesise or to hear) goes to a worker pool (``workers.py``); its result comes back through
the inbox like any other command, so the loop never waits on speech.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.websockets import WebSocket, WebSocketDisconnect

from voxgate.protocol.realtime import dumps
from voxgate.simulator import workers
from voxgate.simulator.actions import Action, Close, Send
from voxgate.simulator.engine import RealtimeEngine
from voxgate.simulator.work import Job, JobResult, Work
from voxgate.transports.ws_server import relay_flusher

log = logging.getLogger("voxgate.simulator")


@dataclass(frozen=True, slots=True)
class Frame:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Gone:
    """The client went away."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The engine's deadline came."""


@dataclass(frozen=True, slots=True)
class DropCommand:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ErrorCommand:
    code: str
    message: str
    error_type: str = "server_error"
    param: str | None = None


@dataclass(frozen=True, slots=True)
class DelayCommand:
    ms: float


@dataclass(frozen=True, slots=True)
class Completed:
    """A worker finished a job."""

    result: JobResult


Command = Frame | Gone | Tick | DropCommand | ErrorCommand | DelayCommand | Completed

Submit = Callable[[Job], "concurrent.futures.Future[JobResult]"]

NO_CLOSE_FRAME: Final = frozenset({1005, 1006, 1015})
"""Codes that mean "no close frame was received"; simulated by cutting the TCP connection."""


def abort_transport(websocket: WebSocket) -> bool:
    """Cut the connection without a close frame, so the client sees 1006 (abnormal closure).

    ASGI has no message for this. Under uvicorn the server's ``send`` is a method of the protocol
    object that owns the transport; Starlette may wrap it in a closure or two, so look through
    those. Returns False when the transport cannot be found (another server).
    """
    pending: list[Any] = [getattr(websocket, "_send", None)]
    for _ in range(8):
        if not pending:
            break
        candidate = pending.pop(0)
        transport = getattr(getattr(candidate, "__self__", None), "transport", None)
        if isinstance(transport, asyncio.Transport):
            transport.abort()
            return True
        for cell in getattr(candidate, "__closure__", None) or ():
            contents = cell.cell_contents
            if callable(contents):
                pending.append(contents)
    return False


class LiveConnection:
    def __init__(
        self,
        websocket: WebSocket,
        engine: RealtimeEngine,
        clock: Callable[[], float] = time.time,
        submit: Submit = workers.submit,
    ) -> None:
        self.websocket = websocket
        self.engine = engine
        self.clock = clock
        self.submit = submit
        self.inbox: asyncio.Queue[Command] = asyncio.Queue()
        self.delay_ms = 0.0
        self._flush = relay_flusher(websocket.scope)

    def control(self, command: DropCommand | ErrorCommand | DelayCommand) -> None:
        self.inbox.put_nowait(command)

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        try:
            if not await self._apply(self.engine.start(self.clock())):
                return
            while True:
                command = await self._next()
                if isinstance(command, Gone):
                    return
                if not await self._apply(self._handle(command)):
                    return
                if self._flush is not None and self.inbox.empty():
                    # Sent now, not at the end of the loop turn: when many sessions are due at once,
                    # each session's events leave when they are made, as a server's would.
                    self._flush()
                if isinstance(command, Tick):
                    await asyncio.sleep(0)  # let the reader and other sessions in between bursts
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client is gone mid-send; nothing left to tell it
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _handle(self, command: Command) -> list[Action]:
        now = self.clock()
        if isinstance(command, Frame):
            return self.engine.receive(command.data, now)
        if isinstance(command, Tick):
            return self.engine.advance(now)
        if isinstance(command, Completed):
            return self.engine.complete(command.result, now)
        if isinstance(command, DropCommand):
            self.engine.closed = True
            return [Close(command.code, command.reason)]
        if isinstance(command, ErrorCommand):
            return self.engine.inject_error(
                command.code, command.message, error_type=command.error_type, param=command.param
            )
        if isinstance(command, DelayCommand):
            self.delay_ms = max(0.0, command.ms)
        return []

    async def _next(self) -> Command:
        deadline = self.engine.next_deadline()
        if deadline is None:
            return await self.inbox.get()
        wait = deadline - self.clock()
        if wait <= 0:
            try:
                return self.inbox.get_nowait()
            except asyncio.QueueEmpty:
                return Tick()
        try:
            return await asyncio.wait_for(self.inbox.get(), wait)
        except TimeoutError:
            return Tick()

    async def _apply(self, actions: list[Action]) -> bool:
        """Carry out the actions; False once the socket is closed."""
        for action in actions:
            if isinstance(action, Work):
                self._start(action.job)
            elif isinstance(action, Send):
                if self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000.0)
                await self.websocket.send_text(dumps(action.event))
            else:
                await self._close(action.code, action.reason)
                return False
        return True

    def _start(self, job: Job) -> None:
        """Run ``job`` in a worker; its result (or its failure) comes back as ``Completed``."""
        future = asyncio.wrap_future(self.submit(job))

        def finished(done: asyncio.Future[JobResult]) -> None:
            if done.cancelled():
                result = job.failed()
            elif (error := done.exception()) is not None:
                log.error("simulator %s %d failed", type(job).__name__, job.job_id, exc_info=error)
                result = job.failed()
            else:
                result = done.result()
            self.inbox.put_nowait(Completed(result))

        future.add_done_callback(finished)

    async def _close(self, code: int, reason: str) -> None:
        if code in NO_CLOSE_FRAME and abort_transport(self.websocket):
            return
        if code in NO_CLOSE_FRAME:
            code, reason = 1011, f"simulated close {code} (abnormal closure needs a uvicorn server)"
        await self.websocket.close(code, reason)

    async def _read(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                data = text if text is not None else message.get("bytes") or b""
                self.inbox.put_nowait(Frame(data))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        self.inbox.put_nowait(Gone())

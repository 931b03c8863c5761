"""The simulator's ASGI app: the Realtime WebSocket, client secrets, and a control API for tests.

Routes:

- ``WS /v1/realtime?model=..[&sim_scenario=NAME[,NAME]][&sim_pace=fast|realtime]``: the GA Realtime
  protocol. Credentials: ``Authorization: Bearer <key>`` or the browser subprotocol
  ``openai-insecure-api-key.<key>``. A bad key gets ``error`` ``invalid_api_key`` and close 3000;
  a beta client (``OpenAI-Beta: realtime=v1``) gets ``beta_api_shape_disabled`` and close 3000.
- ``POST /v1/realtime/client_secrets``: a GA ephemeral ``ek_`` secret.
- ``GET /v1/_simulator/sessions``: live sessions with a summary each.
- ``POST /v1/_simulator/sessions/{id}/drop`` ``{"code": 1011, "reason": ".."}``: close that socket.
- ``POST /v1/_simulator/sessions/{id}/error`` ``{"code": .., "message": .., "type": .., "param": ..}``.
- ``POST /v1/_simulator/sessions/{id}/delay`` ``{"ms": 200}``: delay every following server event.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from starlette.websockets import WebSocket

from voxgate.protocol.realtime import ProtocolError, dumps, error_event
from voxgate.simulator import workers
from voxgate.simulator.connection import DelayCommand, DropCommand, ErrorCommand, LiveConnection
from voxgate.simulator.engine import EngineConfig, RealtimeEngine
from voxgate.simulator.hearing import Recognizer
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.options import SimulatorOptions
from voxgate.simulator.scenario import Scenario, ScenarioError, load_scenario, shipped_scenario
from voxgate.simulator.tokens import ClientSecret, ClientSecrets, requested_secret
from voxgate.simulator.work import HearingJob

KEY_SUBPROTOCOL: Final = "openai-insecure-api-key."
BETA_SUBPROTOCOL: Final = "openai-beta.realtime-v1"
AUTH_CLOSE: Final = 3000


@dataclass
class Simulator:
    """The state one simulator app shares between its connections."""

    options: SimulatorOptions
    secrets: ClientSecrets = field(default_factory=ClientSecrets)
    live: dict[str, LiveConnection] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    timezone: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.timezone = ZoneInfo(self.options.timezone)  # a bad name fails when the app is made

    def engine_config(
        self, *, model: str, pace: str, scenarios: list[Scenario], secret: ClientSecret | None
    ) -> EngineConfig:
        options = self.options
        number = next(self._counter)
        return EngineConfig(
            model=model,
            pace="realtime" if pace == "realtime" else "fast",
            session_defaults=secret.session if secret else None,
            scenarios=scenarios,
            synthesizer_for=options.synthesizer_for,
            recognizer=options.recognizer_factory(),
            timezone=self.timezone,
            session_seconds=options.session_seconds,
            realtime_lead_ms=options.realtime_lead_ms,
            seed=None if options.seed is None else options.seed + number,
        )

    def scenarios_named(self, names: str | None) -> list[Scenario]:
        if not names:
            return list(self.options.scenarios)
        chosen: list[Scenario] = []
        for name in (n.strip() for n in names.split(",") if n.strip()):
            known = next((s for s in self.options.scenarios if s.name == name), None)
            if known is None:
                for folder in self.options.scenario_dirs:
                    path = folder / f"{name}.json"
                    if path.is_file():
                        known = load_scenario(path)
                        break
            chosen.append(known if known is not None else shipped_scenario(name))
        return chosen

    def accepts(self, key: str | None, now: float) -> tuple[bool, ClientSecret | None]:
        if not key:
            return False, None
        if key.startswith("ek_"):
            secret = self.secrets.lookup(key, now)
            return secret is not None, secret
        allowed = self.options.api_keys
        return allowed is None or key in allowed, None


def warm_up_hearing(recognizer: Recognizer) -> None:
    """Start a recogniser that runs in a worker process (and load its model) before it is needed."""
    if getattr(recognizer, "process_bound", False):
        workers.warm_up(HearingJob(0, recognizer, bytes(3200), "audio/pcm", "en"))


def _bearer(headers: Any) -> str | None:
    value = str(headers.get("authorization") or "")
    if value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _api_error(status: int, code: str, message: str, param: str | None = None) -> Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return _json({"error": error}, status)


async def _refuse(websocket: WebSocket, subprotocol: str | None, code: str, message: str) -> None:
    await websocket.accept(subprotocol=subprotocol)
    await websocket.send_text(dumps(error_event(code, message)))
    await websocket.close(AUTH_CLOSE, f"invalid_request_error.{code}")


def create_simulator_app(options: SimulatorOptions | None = None) -> ASGIApp:
    """The simulator as an ASGI app (mount it, or serve it with uvicorn)."""
    simulator = Simulator(options or SimulatorOptions())

    async def realtime(websocket: WebSocket) -> None:
        offered: list[str] = list(websocket.scope.get("subprotocols") or [])
        subprotocol = "realtime" if "realtime" in offered else (offered[0] if offered else None)
        key = _bearer(websocket.headers) or next(
            (p[len(KEY_SUBPROTOCOL) :] for p in offered if p.startswith(KEY_SUBPROTOCOL)), None
        )
        now = time.time()
        allowed, secret = simulator.accepts(key, now)
        if not allowed:
            await _refuse(websocket, subprotocol, "invalid_api_key", "Incorrect API key provided.")
            return
        if "realtime=v1" in str(websocket.headers.get("openai-beta") or "") or BETA_SUBPROTOCOL in offered:
            await _refuse(
                websocket,
                subprotocol,
                "beta_api_shape_disabled",
                "The beta Realtime API shape is no longer available; "
                "connect without 'OpenAI-Beta: realtime=v1'.",
            )
            return
        query = websocket.query_params
        try:
            scenarios = simulator.scenarios_named(query.get("sim_scenario"))
        except ScenarioError as exc:
            await websocket.accept(subprotocol=subprotocol)
            await websocket.send_text(dumps(error_event("invalid_value", str(exc), param="sim_scenario")))
            await websocket.close(1008, "unknown simulator scenario")
            return
        model = query.get("model") or simulator.options.default_model
        config = simulator.engine_config(
            model=model,
            pace=query.get("sim_pace") or simulator.options.pace,
            scenarios=scenarios,
            secret=secret,
        )
        engine = RealtimeEngine(config, now)
        warm_up_hearing(config.recognizer)
        await websocket.accept(subprotocol=subprotocol)
        connection = LiveConnection(websocket, engine)
        simulator.live[engine.session_id] = connection
        try:
            await connection.run()
        finally:
            simulator.live.pop(engine.session_id, None)

    async def client_secrets(request: Request) -> Response:
        key = _bearer(request.headers)
        allowed = simulator.options.api_keys
        if not key or key.startswith("ek_") or (allowed is not None and key not in allowed):
            return _api_error(401, "invalid_api_key", "Incorrect API key provided.")
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return _api_error(400, "invalid_json", "The request body is not valid JSON.")
        try:
            secret = requested_secret(
                body, default_model=simulator.options.default_model, now=time.time(), ids=IdFactory()
            )
        except ProtocolError as exc:
            return _api_error(400, exc.code, exc.message, exc.param)
        simulator.secrets.add(secret)
        return _json(secret.response())

    def _control_allowed(request: Request) -> bool:
        allowed = simulator.options.api_keys
        return allowed is None or _bearer(request.headers) in allowed

    async def list_sessions(request: Request) -> Response:
        if not _control_allowed(request):
            return _api_error(401, "invalid_api_key", "Incorrect API key provided.")
        return _json({"sessions": [c.engine.summary() for c in simulator.live.values()]})

    async def control(request: Request) -> Response:
        if not _control_allowed(request):
            return _api_error(401, "invalid_api_key", "Incorrect API key provided.")
        action = request.path_params["action"]
        if action not in ("drop", "error", "delay"):
            return _api_error(404, "not_found", "Control actions are drop, error and delay.", "action")
        connection = simulator.live.get(request.path_params["session_id"])
        if connection is None:
            return _api_error(404, "session_not_found", "No live session with that id.", "session_id")
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return _api_error(400, "invalid_json", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _api_error(400, "invalid_value", "The request body must be a JSON object.")
        try:
            if action == "drop":
                connection.control(
                    DropCommand(int(body.get("code", 1011)), str(body.get("reason", "simulated drop")))
                )
            elif action == "error":
                connection.control(
                    ErrorCommand(
                        str(body.get("code", "server_error")),
                        str(body.get("message", "Injected error.")),
                        str(body.get("type", "server_error")),
                        body.get("param"),
                    )
                )
            else:
                connection.control(DelayCommand(float(body.get("ms", 0))))
        except (TypeError, ValueError):
            return _api_error(400, "invalid_value", "Bad control parameters.")
        return _json({"ok": True, "session_id": connection.engine.session_id, "action": action}, 202)

    routes: list[Route | WebSocketRoute] = [
        WebSocketRoute("/v1/realtime", realtime),
        Route("/v1/realtime/client_secrets", client_secrets, methods=["POST"]),
    ]
    if simulator.options.control_api:
        routes += [
            Route("/v1/_simulator/sessions", list_sessions, methods=["GET"]),
            Route("/v1/_simulator/sessions/{session_id}/{action:str}", control, methods=["POST"]),
        ]
    app = Starlette(routes=routes)
    app.state.simulator = simulator
    return app

"""The app factory. Nothing runs at import: ``create_app`` wires the parts, the lifespan starts them.

Everything the gateway depends on can be injected (the upstream connector, the tool registry, the
clocks), so the tests run the real app against the real simulator with no patching.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from voxgate import __version__
from voxgate.api.admin import router as admin_router
from voxgate.api.monitoring import router as monitoring_router
from voxgate.api.sessions import router as sessions_router
from voxgate.database import open_database
from voxgate.gateway import Gateway
from voxgate.redact import install_log_redaction
from voxgate.routes import router as rest_router
from voxgate.serving import start_background_server
from voxgate.settings import Settings
from voxgate.tools.defaults import default_registry
from voxgate.tools.registry import ToolRegistry
from voxgate.transports.calls_api import router as calls_router
from voxgate.transports.client_ws import router as client_router
from voxgate.transports.phone_line import PhoneLine
from voxgate.transports.twilio_http import router as twilio_http_router
from voxgate.transports.twilio_rest import TwilioRest
from voxgate.transports.twilio_ws import router as twilio_ws_router
from voxgate.transports.upstream import UpstreamConnector, azure_connector, openai_connector

log = logging.getLogger("voxgate")

SIMULATOR_API_KEY = "voxgate-embedded-simulator"


async def build_connector(settings: Settings, stack: AsyncExitStack) -> UpstreamConnector:
    """The upstream for the configured backend; starts the embedded simulator when that is the backend."""
    backend = settings.effective_backend
    timeout = settings.upstream_connect_timeout
    if backend == "azure":
        assert settings.openai_api_key is not None and settings.azure_openai_endpoint is not None
        return azure_connector(
            api_key=settings.openai_api_key.get_secret_value(),
            endpoint=settings.azure_openai_endpoint,
            api_version=settings.azure_openai_api_version,
            deployment=settings.openai_realtime_model,
            connect_timeout=timeout,
        )
    if backend == "openai":
        assert settings.openai_api_key is not None
        return openai_connector(
            api_key=settings.openai_api_key.get_secret_value(),
            model=settings.openai_realtime_model,
            base_url=settings.openai_base_url,
            connect_timeout=timeout,
        )
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else SIMULATOR_API_KEY
    if settings.openai_base_url:
        # A simulator (or another compatible endpoint) running elsewhere.
        return openai_connector(
            api_key=api_key,
            model=settings.openai_realtime_model,
            base_url=settings.openai_base_url,
            backend="simulator",
            connect_timeout=timeout,
        )
    from voxgate.simulator import SimulatorOptions, create_simulator_app

    server = await start_background_server(create_simulator_app(SimulatorOptions()), "127.0.0.1", 0)
    stack.push_async_callback(server.stop)
    log.info("embedded Realtime simulator listening on %s (loopback only)", server.ws_url + "/v1/realtime")
    return openai_connector(
        api_key=api_key,
        model=settings.openai_realtime_model,
        base_url=server.http_url + "/v1",
        websocket_base_url=server.ws_url + "/v1",
        backend="simulator",
        connect_timeout=timeout,
    )


def twilio_rest(settings: Settings) -> TwilioRest | None:
    """Twilio's REST API when the account is configured (transfers, hang-ups, outbound calls)."""
    if not settings.twilio_account_sid or settings.twilio_auth_token is None:
        return None
    return TwilioRest(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        base_url=settings.twilio_api_base_url,
    )


def create_app(
    settings: Settings | None = None,
    *,
    connector: UpstreamConnector | None = None,
    registry: ToolRegistry | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            database = await open_database(settings, stack)
            upstream = connector or await build_connector(settings, stack)
            gateway = Gateway(
                settings=settings,
                connector=upstream,
                registry=registry or default_registry(),
                clock=clock,
                wall_clock=wall_clock,
                db=database.sessions,
                writer=database.writer,
            )
            app.state.gateway = gateway
            # Runs before the writer drains (the stack unwinds in reverse): sessions still open are
            # ended and WAV files finish, so their last records are in the queue that drains.
            gateway.recording.start()
            stack.push_async_callback(gateway.recording.aclose)
            if settings.redact:
                install_log_redaction()
            app.state.phone_line = PhoneLine(gateway, rest=twilio_rest(settings))
            stack.push_async_callback(app.state.phone_line.aclose)
            log.info("backend: %s (%s), model %s", upstream.backend, upstream.description, upstream.model)
            log.info(
                "client authentication: %s",
                f"{len(settings.client_keys)} client key(s)"
                if settings.client_keys
                else "loopback clients only",
            )
            yield
            for session in list(gateway.sessions.values()):
                await session.close(1001, "gateway shutting down")

    app = FastAPI(
        title="voxgate",
        version=__version__,
        summary="Self-hosted gateway for the OpenAI Realtime API: browser, SDK and phone clients.",
        lifespan=lifespan,
    )
    app.include_router(rest_router)
    app.include_router(client_router)
    app.include_router(twilio_http_router)
    app.include_router(twilio_ws_router)
    app.include_router(calls_router)
    app.include_router(sessions_router)
    app.include_router(monitoring_router)
    app.include_router(admin_router)
    return app

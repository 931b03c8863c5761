"""The ``voxgate`` command line (also ``python -m voxgate``).

A configuration mistake prints one readable message and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence

from voxgate.logs import configure_logging
from voxgate.settings import ConfigError, Settings, load_settings

log = logging.getLogger("voxgate")

Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for attr, field in (("host", "host"), ("port", "port"), ("backend", "backend")):
        value = getattr(args, attr, None)
        if value is not None:
            overrides[field] = value
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:

    from voxgate.app import create_app
    from voxgate.serving import GracefulServer, bind_socket, settle_heap, uvicorn_config

    settings = _settings(args)
    settings.check_ready_to_serve()
    configure_logging(settings.log_level, settings.log_format)
    from voxgate.database import migrate

    asyncio.run(
        migrate(settings)
    )  # a database problem is reported here, readably, not as a start-up traceback
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
            "Is another voxgate running? Choose another --port."
        ) from None
    port = sock.getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info(
        "voxgate listening on http://%s:%d (test client: http://%s:%d/openai/client)", host, port, host, port
    )
    config = uvicorn_config(
        create_app(settings),
        max_message_bytes=settings.max_message_bytes,
        log_level=settings.log_level.lower(),
        ws_compression=settings.ws_compression,
    )
    settle_heap()
    GracefulServer(config).run(sockets=[sock])
    return 0


def cmd_simulator(args: argparse.Namespace) -> int:

    from voxgate.serving import GracefulServer, bind_socket, settle_heap, uvicorn_config
    from voxgate.settings import is_loopback_host
    from voxgate.simulator import SimulatorOptions, create_simulator_app

    configure_logging(os.environ.get("VOXGATE_LOG_LEVEL", "INFO"))
    if not is_loopback_host(args.host):
        log.warning("the simulator accepts any API key; it is listening on %s", args.host)
    options = SimulatorOptions(pace="realtime" if args.realtime else "fast")
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}.") from None
    port = sock.getsockname()[1]
    log.info(
        "Realtime simulator on ws://%s:%d/v1/realtime (point OPENAI_BASE_URL at http://%s:%d/v1)",
        args.host,
        port,
        args.host,
        port,
    )
    app = create_simulator_app(options)
    settle_heap()
    GracefulServer(uvicorn_config(app, log_level="warning")).run(sockets=[sock])
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from voxgate.database import migrate

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    where = asyncio.run(migrate(settings))
    print(f"database {where} is at the latest schema")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from voxgate.database import load_demo_data

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    where, report = asyncio.run(load_demo_data(settings))
    if report.changed:
        added = ", ".join(report.businesses) or "no new businesses"
        print(f"demo data loaded into {where}: {added}; {report.rows} rows added")
    else:
        print(f"demo data already present in {where}; nothing to add")
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    from voxgate.caller.cli import run

    configure_logging("WARNING")
    return asyncio.run(run(args))


def cmd_bench(args: argparse.Namespace) -> int:
    configure_logging("WARNING")
    if args.which == "relay":
        from voxgate.bench.relay import main as relay_main

        return asyncio.run(relay_main(args))
    if args.which == "speech":
        from voxgate.bench.speech import main as speech_main

        return asyncio.run(speech_main(args))
    if args.which == "calls":
        from voxgate.bench.calls import main as calls_main

        return asyncio.run(calls_main(args))
    if args.which == "codec":
        from voxgate.bench.codec import format_table, run_codec_bench

        result = run_codec_bench(seconds=args.seconds)
        print(format_table(result))
        if args.json:
            from voxgate.bench.report import write_json

            write_json(args.json, result)
        return 0
    raise ConfigError(f"unknown benchmark {args.which}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxgate", description="Self-hosted gateway for realtime voice AI.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default $PORT or 8000)")
    serve.add_argument(
        "--backend",
        choices=["auto", "simulator", "openai", "azure"],
        help="auto = openai when OPENAI_API_KEY is set, else the embedded simulator",
    )
    serve.set_defaults(func=cmd_serve)

    simulator = sub.add_parser("simulator", help="run the Realtime API simulator on its own")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=9100)
    simulator.add_argument("--realtime", action="store_true", help="pace audio at playback speed")
    simulator.set_defaults(func=cmd_simulator)

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply the migrations")
    db.set_defaults(func=cmd_db)

    demo_data = sub.add_parser("demo-data", help="load the demo bar (Blue Note) and salon (Bella)")
    demo_data.set_defaults(func=cmd_demo_data)

    call = sub.add_parser("call", help="act as Twilio placing a call to the gateway's phone line")
    from voxgate.caller.cli import add_arguments as add_call_arguments

    add_call_arguments(call)
    call.set_defaults(func=cmd_call)

    bench = sub.add_parser("bench", help="benchmarks: print a table, write JSON")
    bench.add_argument("which", choices=["relay", "speech", "calls", "codec"])
    bench.add_argument("--json", help="write the results to this file")
    bench.add_argument("--sessions", default="1,10,100,200", help="relay: concurrent sessions to measure")
    bench.add_argument("--seconds", type=float, default=5.0, help="how long each measurement runs")
    bench.add_argument(
        "--storage", default="off,on", help="relay: run voxgate without (off) and with (on) recording"
    )
    bench.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="relay and calls: rounds per count (bare, then voxgate in each mode); the table shows medians",
    )
    bench.add_argument(
        "--simultaneous",
        action="store_true",
        help="relay: measure the bare relay and voxgate in each mode at the same time, N sessions each, "
        "so that the machine's drift between measurements does not enter their comparison",
    )
    bench.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="relay: also run voxgate from another checkout (or its src folder) at the same time, in the "
        "same storage modes, and show this build's CPU against it",
    )
    bench.add_argument("--calls", default="10,50,100,200", help="calls: concurrent calls to measure")
    bench.add_argument(
        "--modes", default="passthrough,transcoding", help="calls: passthrough (G.711), transcoding (PCM16)"
    )
    bench.add_argument(
        "--media-ms", type=int, default=100, help="calls: largest media message voxgate sends to Twilio"
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"voxgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code

"""Child processes for benchmarks: start, wait until listening, read their CPU time, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    def cpu_seconds(self) -> float:
        """CPU time of the process so far, all threads, from /proc (Linux).

        The scheduler's own count (``schedstat``, nanoseconds) where the kernel has it: ``stat``'s
        user + system time moves in 10 ms ticks, too coarse for a few seconds of a light relay.
        """
        tasks = f"/proc/{self.process.pid}/task"
        try:
            total_ns = 0
            for task in os.listdir(tasks):
                with open(f"{tasks}/{task}/schedstat") as schedstat:
                    total_ns += int(schedstat.read().split()[0])
            return total_ns / 1e9
        except (OSError, ValueError, IndexError):
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def start_child(name: str, args: Sequence[str], port: int, env: dict[str, str] | None = None) -> Child:
    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the child lives for the whole run
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = Child(name, process, port)
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} during start-up")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return child
        except OSError:
            await asyncio.sleep(0.05)
    child.stop()
    raise RuntimeError(f"{name} did not start listening on port {port}")

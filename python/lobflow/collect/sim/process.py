"""The simulated venue in a process of its own (``lobflow sim-exchange``).

Benchmarks, the live soak and the crash tests run the venue apart from the process they
measure or kill, so that its CPU and memory are not theirs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class SimProcess:
    """A running ``lobflow sim-exchange``: its port on 127.0.0.1 and its process."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        """The REST base URL every venue has there."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        """The WebSocket scheme+host+port every venue has there."""
        return f"ws://127.0.0.1:{self.port}"


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sim_exchange_process(
    seed: int | None = None, *, start_timeout_s: float = 60.0
) -> Iterator[SimProcess]:
    """Start the simulated venue on a free port, wait until it listens, stop it on exit.

    A venue that exits or does not listen within `start_timeout_s` is a `RuntimeError`
    (and is killed). On exit it is sent SIGTERM, then killed if it has not ended in 10 s.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "lobflow", "sim-exchange", "--port", str(port)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(proc, port, start_timeout_s)
        yield SimProcess(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(proc: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"the simulated venue exited with {proc.returncode} before listening"
            raise RuntimeError(msg)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    msg = f"the simulated venue did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s"
    raise RuntimeError(msg)

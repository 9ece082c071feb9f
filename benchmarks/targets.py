"""Starting and stopping the servers under test: the reference CSMS and Borne."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.common import free_port, port_open

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("reference", "borne")
PATH_PREFIX = {"reference": "", "borne": "/ocpp"}


class TargetError(RuntimeError):
    """The server under test did not start (its log tail is in the message)."""


@dataclass
class RunningTarget:
    name: str
    host: str
    port: int
    path_prefix: str
    proc: subprocess.Popen[str]
    log_path: Path
    workdir: tempfile.TemporaryDirectory[str] | None = None
    stdout: IO[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.path_prefix}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 15.0) -> dict[str, Any]:
        """Stop the server (SIGINT, then SIGTERM, then SIGKILL); return what it reported."""
        stats: dict[str, Any] = {}
        if self.proc.poll() is None:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.stdout is not None:
            self.stdout.seek(0)
            for line in self.stdout:
                if line.startswith("STATS "):
                    stats = json.loads(line[len("STATS ") :])
            self.stdout.close()
        stats["exit_code"] = self.proc.returncode
        if self.workdir is not None:
            self.workdir.cleanup()
        return stats


def _log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _wait_port(target: RunningTarget, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.proc.poll() is not None:
            raise TargetError(
                f"{target.name} exited with {target.proc.returncode} before listening:\n"
                + _log_tail(target.log_path)
            )
        if port_open(target.host, target.port):
            return
        time.sleep(0.1)
    target.stop(5)
    raise TargetError(f"{target.name} did not listen on {target.port} within {timeout}s")


def start_reference(host: str = "127.0.0.1", timeout: float = 20.0) -> RunningTarget:
    """``python -m benchmarks.reference.server`` on a free port."""
    port = free_port(host)
    workdir = tempfile.TemporaryDirectory(prefix="bench-ref-")
    log_path = Path(workdir.name) / "reference.log"
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115  (read back by RunningTarget.stop)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.reference.server"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*command, "--host", host, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=log,
            text=True,
        )
    prefix = PATH_PREFIX["reference"]
    target = RunningTarget("reference", host, port, prefix, proc, log_path, workdir, out)
    _wait_port(target, timeout)
    return target


def borne_env(workdir: Path, ocpp_port: int, api_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "BORNE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            "BORNE_OCPP_PORT": str(ocpp_port),
            "BORNE_API_PORT": str(api_port),
            "BORNE_REGISTRATION_POLICY": "accept",
        }
    )
    return env


def start_borne(host: str = "127.0.0.1", timeout: float = 60.0) -> RunningTarget:
    """``python -m borne migrate`` then ``python -m borne run`` on a fresh SQLite database."""
    workdir = tempfile.TemporaryDirectory(prefix="bench-borne-")
    path = Path(workdir.name)
    ocpp_port, api_port = free_port(host), free_port(host)
    env = borne_env(path, ocpp_port, api_port)
    log_path = path / "borne.log"
    with log_path.open("w") as log:
        migrate = subprocess.run(
            [sys.executable, "-m", "borne", "migrate"],
            cwd=path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    if migrate.returncode != 0:
        tail = _log_tail(log_path)
        workdir.cleanup()
        raise TargetError(f"borne migrate failed ({migrate.returncode}):\n{tail}")
    with log_path.open("a") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "borne", "run"],
            cwd=path,  # its generated API key file stays in the temporary directory
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    target = RunningTarget("borne", host, ocpp_port, PATH_PREFIX["borne"], proc, log_path, workdir)
    target.extra = {"api_port": api_port, "database": env["BORNE_DATABASE_URL"]}
    _wait_port(target, timeout)
    return target


def start_target(name: str, host: str = "127.0.0.1") -> RunningTarget:
    if name == "reference":
        return start_reference(host)
    if name == "borne":
        return start_borne(host)
    raise ValueError(f"unknown target {name!r}")

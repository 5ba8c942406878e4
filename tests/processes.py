"""Real servers as subprocesses for tests: a private Redis, Celery worker and beat, uvicorn.

They run against the test database that pytest-django created (use `transactional_db` so
the subprocesses see committed rows).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database the tests use right now (pytest-django's `test_<NAME>`)."""
    from django.db import connection

    d = connection.settings_dict
    return (
        f"postgres://{d['USER']}:{d['PASSWORD']}@{d['HOST'] or '127.0.0.1'}:"
        f"{d['PORT'] or 5432}/{d['NAME']}"
    )


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(overrides)
    return env


def wait_for(
    condition: Callable[[], object],
    timeout: float = 30,
    every: float = 0.2,
    message: str = "condition",
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    text = message() if callable(message) else message
    raise AssertionError(f"timed out after {timeout}s waiting for {text}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process and all its children (a prefork worker's pool too)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            family = [
                self.proc.pid,
                *(c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)),
            ]
        except psutil.NoSuchProcess:
            family = [self.proc.pid]
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def redis_server(port: int, log_dir: Path) -> Process:
    return Process(
        f"redis-{port}",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        dict(os.environ),
        log_dir,
    )


def celery_worker(name: str, env: dict[str, str], log_dir: Path, concurrency: int = 2) -> Process:
    return Process(
        name,
        [
            str(VENV_BIN / "celery"),
            "-A",
            "pedslink",
            "worker",
            "-l",
            "INFO",
            "--concurrency",
            str(concurrency),
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
        log_dir,
    )


def celery_beat(name: str, env: dict[str, str], log_dir: Path) -> Process:
    return Process(
        name,
        [
            str(VENV_BIN / "celery"),
            "-A",
            "pedslink",
            "beat",
            "-l",
            "INFO",
            "--schedule",
            str(log_dir / f"{name}-schedule"),
        ],
        env,
        log_dir,
    )


def uvicorn_server(port: int, env: dict[str, str], log_dir: Path) -> Process:
    return Process(
        f"uvicorn-{port}",
        [
            str(VENV_BIN / "uvicorn"),
            "pedslink.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-proxy-headers",  # as the Procfile: TRUSTED_PROXIES decides, in Django
        ],
        env,
        log_dir,
    )

"""A real Airflow deployment for the live tests and the scale benchmark: api-server, scheduler, dag-processor
(and Celery workers), each in its own process group, against a PostgreSQL metadata database; a REST client
with a bearer token.

Stopping ends every process group and checks that none of their processes is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pipeline.settings import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    check: Callable[[], Any], *, timeout: float, interval: float = 1.0, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # the service is still starting
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


@dataclass
class AirflowCluster:
    home: Path
    metadata_url: str
    env_extra: Mapping[str, str]
    executor: str = "LocalExecutor"
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    token: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "NEWS_"))
        }
        env.update({
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "chip-news-test-jwt-secret-not-for-production",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        })  # fmt: skip
        env.update(self.env_extra)
        return env

    def airflow(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def setup(self) -> None:
        """Migrate the metadata DB and create the pools (the project's set-up script)."""
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "airflow-setup.sh")],
            env=self.env, check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        log = open(self.home / f"{name}.log", "wb")
        proc_env = self.env | dict(env or {})
        self.processes[name] = subprocess.Popen(
            [str(VENV_BIN / "airflow"), *args], env=proc_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as a whole in stop()
        )  # fmt: skip

    def start_core(self) -> None:
        self.start(
            "api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1"
        )
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")

    def wait_healthy(self, timeout: float = 120) -> None:
        def healthy() -> bool:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: {self.tail(name)}")
            r = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
            body = r.json()
            return r.status_code == 200 and body.get("scheduler", {}).get("status") == "healthy"

        try:
            wait_for(healthy, timeout=timeout, interval=2, what="Airflow health")
        except (TimeoutError, RuntimeError) as e:
            raise RuntimeError(f"{e}\n{self.logs()}") from e
        self.token = self._login()

    def _login(self) -> str:
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        r = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": "admin", "password": passwords["admin"]},
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=30, **kw)

    def wait_dag_parsed(self, dag_id: str, timeout: float = 120) -> None:
        wait_for(lambda: self.api("GET", f"/dags/{dag_id}").status_code == 200, timeout=timeout, interval=2,
                 what=f"DAG {dag_id} to be parsed")  # fmt: skip

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.home / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.tail(name)}" for name in self.processes)

    def stop(self) -> list[str]:
        """End every process group; return descriptions of processes still alive afterwards (should be none)."""
        for proc in self.processes.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                pass
        # Children (task runners, gunicorn/uvicorn workers, celery pool) share their leader's group.
        time.sleep(1)
        leftovers: list[str] = []
        for name, proc in self.processes.items():
            alive = _group_members(proc.pid)
            if alive:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(1)
                still = _group_members(proc.pid)
                leftovers.extend(f"{name}: pid {pid}" for pid in still)
        return leftovers


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may contain spaces) start after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(entry.name))
    return members

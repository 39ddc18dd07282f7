"""The compose deployment, checked statically (no Docker engine here): docker-compose.yml against the
compose spec, the files it and the Dockerfile refer to, its variables against .env.example, the settings
every Airflow service must share; and the PostgreSQL init script against a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from support.environment import unavailable

from pipeline.settings import PROJECT_ROOT, Settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
PG_INIT = PROJECT_ROOT / "deploy" / "postgres-init" / "10-chip-news-db.sh"
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "flower",
}
EXECUTION_API_URL = "http://airflow-apiserver:8080/execution/"


def _compose() -> dict[str, Any]:
    # PyYAML resolves the anchors and `<<` merge keys the way compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services built from the project's Airflow image (the x-airflow-common anchor)."""
    image = compose["x-airflow-common"]["image"]
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == image}


def _interpolated_names(text: str) -> set[str]:
    """Variables compose substitutes: ${NAME...} and $NAME, nested ones included; $$ is a literal $."""
    names: set[str] = set()
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text[i] == "$":
            m = re.compile(r"\{?([A-Za-z_][A-Za-z0-9_]*)").match(text, i + 1)
            if m:
                names.add(m.group(1))
        i += 1
    return names


def _strings(node: Any) -> list[str]:
    """Every string value of the parsed file (compose substitutes values, never keys or comments)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _env_example() -> dict[str, tuple[str, str]]:
    """NAME -> (value, the comment line above it) for every assignment in .env.example."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    out: dict[str, tuple[str, str]] = {}
    for n, line in enumerate(lines):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = (m.group(2), lines[n - 1] if n else "")
    return out


def _env_values() -> dict[str, str]:
    """.env.example's values as compose reads them: quotes removed, single-quoted ones taken literally."""
    values = {}
    for name, (raw, _) in _env_example().items():
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's substitution: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
    ${NAME?error}, with nested expressions in defaults. A missing required value raises ValueError."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])(.*))?", text[i + 2 : j - 1], re.S)
            assert m, f"bad expression {text[i:j]!r}"
            name, colon, op, arg = m.groups()
            value = env.get(name)
            unset = value is None or (colon == ":" and value == "")
            if op == "-" and unset:
                value = _interpolate(arg, env)
            elif op == "?" and unset:
                raise ValueError(f"{name}: {arg}")
            out.append(value or "")
            i = j
        elif text[i] == "$" and (m := re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i + 1)):
            out.append(env.get(m.group(0), ""))
            i = m.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _resolved(node: Any, env: dict[str, str]) -> Any:
    """The parsed compose file with every string value substituted, as compose does after parsing YAML."""
    if isinstance(node, dict):
        return {key: _resolved(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value, env) for value in node]
    return _interpolate(node, env) if isinstance(node, str) else node


def _check_jsonschema() -> str | None:
    found = Path(sys.executable).with_name("check-jsonschema")
    return str(found) if found.exists() else shutil.which("check-jsonschema")


# --- (a) the compose spec ----------------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec() -> None:
    exe = _check_jsonschema()
    if exe is None:
        unavailable("check-jsonschema is not installed (requirements-dev.txt installs it)")
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_spec_check_catches_a_broken_file(tmp_path: Path) -> None:
    exe = _check_jsonschema()
    if exe is None:
        unavailable("check-jsonschema is not installed (requirements-dev.txt installs it)")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text(encoding="utf-8").replace("healthcheck:", "health_check:", 1))
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "health_check" in result.stdout


# --- (b) the files it refers to ----------------------------------------------------------------------------


def test_bind_mounts_and_build_inputs_exist() -> None:
    compose = _compose()
    checked = 0
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build:
            context = PROJECT_ROOT / build["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile"
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):  # a bind mount; anything else is a named volume
                assert (PROJECT_ROOT / source).exists(), f"{name}: bind-mounted {source} is missing"
                checked += 1
            else:
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"
    assert checked >= 5


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    }
    copies = re.findall(r"^COPY(?:\s+--\S+)*\s+(.+?)\s+\S+$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert copies
    for sources in copies:
        for source in sources.split():
            assert (PROJECT_ROOT / source).exists(), f"COPY {source}: no such file"
            assert source.split("/")[0] not in ignored, f"COPY {source}: excluded by .dockerignore"


def test_postgres_init_script_is_mounted_and_executable() -> None:
    postgres = _compose()["services"]["postgres"]
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert os.access(PG_INIT, os.X_OK)
    assert "NEWS_DB_PASSWORD" in postgres["environment"]


# --- (c) variables and secrets ------------------------------------------------------------------------------


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = _interpolated_names("\n".join(_strings(_compose())))
    documented = _env_example()
    assert used, "the compose file takes nothing from .env?"
    missing = used - set(documented)
    assert not missing, f"not in .env.example: {sorted(missing)}"
    unused = set(documented) - used
    assert not unused, f"in .env.example but unused by docker-compose.yml: {sorted(unused)}"
    for name, (_, comment) in documented.items():
        assert comment.startswith("# ") and len(comment) > 10, f"{name} has no comment line above it"


def test_with_secrets_filled_in_the_workers_environment_is_valid(tmp_path: Path) -> None:
    env = _env_values()
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        _resolved(_compose(), env)  # .env.example as it is: refused until the secrets are set
    secrets = [name for name, (_, comment) in _env_example().items() if comment.startswith("# Required.")]
    env.update({name: uuid.uuid4().hex for name in secrets})
    compose = _resolved(_compose(), env)
    worker = compose["services"]["airflow-worker"]["environment"]
    settings = Settings.from_env({**worker, "NEWS_HOME": str(tmp_path)})  # validates schedule, zones, URL
    assert (
        settings.db_url
        == f"postgresql+psycopg2://chip_news:{env['NEWS_DB_PASSWORD']}@postgres:5432/chip_news"
    )
    assert settings.schedule == "*/15 * * * *" and settings.display_tz == "Asia/Shanghai"
    assert settings.model_dir == Path("/opt/airflow/var/models")
    assert settings.feeds_file == Path("/opt/airflow/config/feeds.yaml")
    assert settings.slack_channel == "#chip-alerts"
    slack = json.loads(worker["AIRFLOW_CONN_SLACK_API_DEFAULT"])
    assert slack["conn_type"] == "slack" and slack["password"] == "xoxb-example"
    assert worker["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    ports = compose["services"]["airflow-apiserver"]["ports"]
    assert ports == ["127.0.0.1:8080:8080"]
    # The store password reaches both ends: the worker's URL and the database's init script.
    assert compose["services"]["postgres"]["environment"]["NEWS_DB_PASSWORD"] == env["NEWS_DB_PASSWORD"]
    init_script = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}" in init_script  # $$ left to bash


def test_env_example_documents_the_project_settings_and_holds_no_secret() -> None:
    documented = _env_example()
    for name in (
        "NEWS_DB_URL",
        "NEWS_SLACK_CHANNEL",
        "NEWS_OPS_CHANNEL",
        "NEWS_FEEDS_FILE",
        "NEWS_SCHEDULE",
        "NEWS_DISPLAY_TZ",
        "AIRFLOW_CONN_SLACK_API_DEFAULT",
        "AIRFLOW_JWT_SECRET",
    ):
        assert name in documented
    assert "postgresql+psycopg2://chip_news:" in documented["NEWS_DB_URL"][1]
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert set(re.findall(r"xox[abpr]-[0-9A-Za-z-]+", text)) == {"xoxb-example"}
    for name, (value, comment) in documented.items():
        if comment.startswith("# Required."):
            assert value == "", f"{name}: a required secret must be left for the operator to set"


def test_secrets_come_only_from_the_environment() -> None:
    compose = _compose()
    secret_key = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|BASIC_AUTH|^AIRFLOW_CONN_")
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form for environment"
        for key, raw in env.items():
            value = str(raw)
            if secret_key.search(key) and not key.endswith("_FILE"):
                assert value.startswith("${") and value.endswith("}"), f"{name}.{key} is not from .env"
            for url_password in re.findall(r"://[^:/@]*:([^@]*)@", value):
                assert url_password.startswith("${"), f"{name}.{key}: a literal password in a URL"
    for required in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY"):
        assert f"${{{required}:?" in COMPOSE_FILE.read_text(encoding="utf-8"), f"{required} must be required"
    # Requirements are built into the image, never installed at each start.
    assert not any(
        "_PIP_ADDITIONAL_REQUIREMENTS" in (s.get("environment") or {}) for s in compose["services"].values()
    )


# --- (d) what the Airflow services share --------------------------------------------------------------------


def test_airflow_services_share_jwt_secret_execution_api_and_executor() -> None:
    compose = _compose()
    services = _airflow_services(compose)
    assert set(services) == AIRFLOW_SERVICES
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    for name, svc in services.items():
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == common["AIRFLOW__API_AUTH__JWT_SECRET"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == EXECUTION_API_URL, name
        assert env["AIRFLOW__API__SECRET_KEY"] == common["AIRFLOW__API__SECRET_KEY"], name
        assert env["NEWS_MODEL_DIR"] == "/opt/airflow/var/models", name
        mounts = {v.split(":")[1] for v in svc["volumes"]}
        assert {
            "/opt/airflow/dags",
            "/opt/airflow/plugins",
            "/opt/airflow/pipeline",
            "/opt/airflow/config",
        } <= mounts
        assert "/opt/airflow/var" in mounts, f"{name}: no shared models volume"
        assert "PYTHONPATH" in env and env["PYTHONPATH"] == "/opt/airflow"
    # The URL's host is the api-server's service name, and that service serves port 8080.
    assert any(p.endswith(":8080") for p in compose["services"]["airflow-apiserver"]["ports"])
    assert compose["services"]["airflow-apiserver"]["command"] == "api-server"
    # Celery brokers through redis, and its results go to the PostgreSQL metadata database.
    assert (
        common["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        and "@redis:6379" in common["AIRFLOW__CELERY__BROKER_URL"]
    )
    assert common["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert common["NEWS_DB_URL"].startswith("${NEWS_DB_URL:-postgresql+psycopg2://chip_news:")
    assert common["NEWS_DB_URL"].endswith("@postgres:5432/chip_news}")


def test_services_have_health_checks_profiles_and_valid_dependencies() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        if name not in ("airflow-init", "airflow-cli"):
            assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for dependency in svc.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    assert services["flower"]["profiles"] == ["flower"]
    assert services["rsshub"]["profiles"] == ["rsshub"]
    assert services["rsshub"]["image"].startswith("${RSSHUB_IMAGE:-diygod/rsshub")
    assert services["airflow-cli"]["profiles"] == ["debug"]
    for name in AIRFLOW_SERVICES - {"airflow-init", "airflow-cli"}:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}


def test_airflow_init_sets_up_airflow_and_the_pipeline() -> None:
    init = _compose()["services"]["airflow-init"]
    script = "\n".join(init["command"])
    assert init["user"] == "0:0"
    for step in (
        "scripts/airflow-setup.sh",  # db migrate and the pools (feed_fetch 4, slack_api 1)
        "python -m pipeline migrate",
        "python -m pipeline train --if-missing",
        "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    ):
        assert step in script
    setup = (PROJECT_ROOT / "scripts" / "airflow-setup.sh").read_text(encoding="utf-8")
    assert re.search(r"airflow pools set feed_fetch \"\$\{FEED_FETCH_POOL_SLOTS:-4\}\"", setup)
    assert re.search(r"airflow pools set slack_api \"\$\{SLACK_API_POOL_SLOTS:-1\}\"", setup)
    # The script's shell variables are escaped ($$) so compose leaves them to bash.
    assert "$${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}" in COMPOSE_FILE.read_text(encoding="utf-8")


# --- (e) the image ----------------------------------------------------------------------------------------


def test_dockerfile_builds_on_the_pinned_airflow_and_installs_the_requirements() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    pinned = re.search(r"^apache-airflow==(\S+)", (PROJECT_ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == "3.3.2"
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms == ["apache/airflow:3.3.2-python3.11"]
    assert froms[0].startswith(f"apache/airflow:{pinned.group(1)}")
    assert re.search(
        r'^RUN pip install --no-cache-dir "apache-airflow==3\.3\.2" -r /opt/airflow/requirements\.txt$',
        text,
        re.M,
    )
    assert "COPY --chown=airflow:root requirements.txt /opt/airflow/requirements.txt" in text
    assert "USER root" not in text, "pip must run as the image's airflow user"
    assert re.search(r"^ENV PYTHONPATH=/opt/airflow", text, re.M)


# --- the init script against a real PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
def test_postgres_init_script_creates_the_store_database_idempotently(pg_url: str) -> None:
    if shutil.which("psql") is None:
        unavailable("psql (PostgreSQL client) is not installed")
    admin = sa.engine.make_url(pg_url)
    suffix = uuid.uuid4().hex[:8]
    db, owner, password = f"chip_news_{suffix}", f"chip_news_{suffix}", 'it\'s a "hard" pass:word@1'
    env = {
        **os.environ,
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGPASSWORD": admin.password or "",
        "POSTGRES_USER": admin.username or "postgres",
        "POSTGRES_DB": admin.database or "postgres",
        "NEWS_DB_NAME": db,
        "NEWS_DB_USER": owner,
        "NEWS_DB_PASSWORD": password,
    }
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        for _ in range(2):  # the second run finds everything in place and changes nothing
            result = subprocess.run(
                ["bash", str(PG_INIT)], env=env, capture_output=True, text=True, timeout=60, check=False
            )
            assert result.returncode == 0, result.stderr
        store_url = sa.engine.URL.create(
            "postgresql+psycopg2", username=owner, password=password, host=env["PGHOST"],
            port=int(env["PGPORT"]), database=db,
        )  # fmt: skip
        engine = sa.create_engine(store_url)
        with engine.begin() as conn:  # the owner may create the store's tables
            conn.execute(sa.text("CREATE TABLE probe (id integer)"))
            assert conn.execute(sa.text("SELECT current_user")).scalar() == owner
        engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin_engine.dispose()

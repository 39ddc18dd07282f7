#!/usr/bin/env bash
# `make up`: airflow standalone with the project's DAGs, the sample feeds on loopback, UI on :8080.
# standalone starts its parts as `airflow ...` from PATH (the venv's bin is on PATH via the Makefile) and
# leaves the scheduler and api-server running on SIGTERM, so it runs in its own process group that we end.
set -euo pipefail

port="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__PORT="$port"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:${port}/execution/}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [[ "${NEWS_FEEDS_FILE:-}" == *feeds.sample.yaml ]]; then
  sample_port="${SAMPLE_PORT:-8765}"
  if [[ "$sample_port" != 8765 ]]; then
    # the bundled list names port 8765: a copy pointed at this port
    export NEWS_FEEDS_FILE="$(python -m pipeline serve-samples --port "$sample_port" --write-feed-list "${AIRFLOW_HOME}/../feeds.sample.${sample_port}.yaml")"
  fi
  setsid python -m pipeline serve-samples --port "$sample_port" &
  pids+=($!)
fi

setsid airflow standalone > "${AIRFLOW_HOME}/standalone.log" 2>&1 &
pids+=($!)
echo "airflow standalone starting (log: ${AIRFLOW_HOME}/standalone.log) ..."

for _ in $(seq 1 90); do
  if curl -fsS "http://localhost:${port}/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
  sleep 2
done
pwfile="${AIRFLOW_HOME}/simple_auth_manager_passwords.json.generated"
echo
echo "Airflow UI: http://localhost:${port}"
if [[ -f "$pwfile" ]]; then
  python - "$pwfile" <<'PY'
import json, sys
for user, password in json.load(open(sys.argv[1])).items():
    print(f"login: {user} / {password}")
PY
fi
echo "DAGs start paused: unpause news_monitor in the UI. Ctrl-C stops everything."
wait "${pids[-1]}"

#!/usr/bin/env bash
# Idempotent Airflow set-up for the local profile and the compose init service:
# migrate the metadata DB, create the pools, and the Slack connection when a token is given.
set -euo pipefail

echo "airflow: migrating the metadata database (${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%%:*})"
airflow db migrate >/dev/null

# Pools: feed_fetch bounds concurrent fetch tasks (politeness towards feed hosts),
# slack_api serialises alert posting (Slack allows about one message per second per channel).
airflow pools set feed_fetch "${FEED_FETCH_POOL_SLOTS:-4}" "Concurrent feed fetch tasks" >/dev/null
airflow pools set slack_api "${SLACK_API_POOL_SLOTS:-1}" "Tasks that post to Slack" >/dev/null
echo "airflow: pools feed_fetch and slack_api ready"

# The Slack connection: from the environment (AIRFLOW_CONN_SLACK_API_DEFAULT) it needs nothing here;
# from SLACK_BOT_TOKEN it is (re)created in the metadata DB.
if [[ -z "${AIRFLOW_CONN_SLACK_API_DEFAULT:-}" && -n "${SLACK_BOT_TOKEN:-}" ]]; then
  extra='{}'
  if [[ -n "${SLACK_BASE_URL:-}" ]]; then extra="{\"base_url\": \"${SLACK_BASE_URL}\"}"; fi
  airflow connections delete slack_api_default >/dev/null 2>&1 || true
  airflow connections add slack_api_default --conn-type slack --conn-password "${SLACK_BOT_TOKEN}" \
    --conn-extra "${extra}" >/dev/null
  echo "airflow: connection slack_api_default set from SLACK_BOT_TOKEN"
elif [[ -z "${AIRFLOW_CONN_SLACK_API_DEFAULT:-}" ]]; then
  echo "airflow: no Slack token (SLACK_BOT_TOKEN or connection slack_api_default): alerts are a dry run"
fi

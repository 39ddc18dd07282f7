"""Airflow glue for the chip news monitor: the Slack hook, the failure notifier, task settings."""

"""Airflow glue for the chip news monitor: the Slack hook, the failure notifier, task settings, and the
chip-news console (``console/``, registered by ``console_plugin.py``)."""

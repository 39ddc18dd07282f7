"""Airflow glue for the chip news monitor: Connections to clients, failure notices, the UI plugin."""

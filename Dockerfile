# The Airflow image of the compose deployment: the official image, the project's pinned requirements and
# the project itself. Built by `docker compose build` (docs/deploy.md).
#
# The Python 3.11 variant, because the project is developed and tested on 3.11 (pyproject.toml).
FROM apache/airflow:3.3.2-python3.11

# Requirements first, so that a code change does not reinstall them. Naming apache-airflow with the
# image's own version keeps pip from moving Airflow while it resolves the requirements. The image's
# user is already `airflow`: packages go to its user site, as the image expects.
COPY --chown=airflow:root requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/airflow/requirements.txt

# The project, at the paths compose mounts the working tree over: the package is importable as
# /opt/airflow/pipeline through PYTHONPATH (one copy whichever user runs it; the image also works
# without the mounts). data/ holds the training set for `python -m pipeline train`.
COPY --chown=airflow:root pipeline/ /opt/airflow/pipeline/
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root config/ /opt/airflow/config/
COPY --chown=airflow:root data/ /opt/airflow/data/
COPY --chown=airflow:root scripts/airflow-setup.sh /opt/airflow/scripts/airflow-setup.sh

ENV PYTHONPATH=/opt/airflow \
    NEWS_HOME=/opt/airflow \
    NEWS_MODEL_DIR=/opt/airflow/var/models

# Runtime state (models, dry-run file) lives on a volume in compose; group 0 may write it, so the image
# runs under any AIRFLOW_UID as the official image does.
RUN mkdir -p /opt/airflow/var/models /opt/airflow/var/auth \
    && chmod -R g+rwX /opt/airflow/var

"""Chip news monitor: crawl feeds, flag big-tech chip stories, alert Slack.

Plain Python that never imports Airflow; the DAGs in ``dags/`` only wire these functions together, and
``python -m pipeline`` runs the same functions from a shell.

Module map, lowest layer first. A module imports only from its own package and from the layers below it
(``tests/test_architecture.py`` checks this):

kernel
    ``errors``    one exception base, subclasses that carry context (URL, feed, file and line)
    ``models``    frozen dataclasses passed between stages; ``LANGUAGES``, ``EVENT_TYPES``
    ``settings``  the one place that reads configuration (environment variables, each checked)
    ``text``      text hygiene, HTML to text, the CJK character class, language detection, faster regex searches (``Guarded``)
``config/``       the YAML files a user edits, validated with file/entry/line errors
    ``yamlfile`` (loading), ``feeds``, ``watchlist``, ``routing``, ``feedback`` (emoji -> labels)
``store/``        every SQL statement (SQLAlchemy Core; SQLite or PostgreSQL)
    ``base`` (engine, UPSERT), ``schema`` (tables at head), ``migrate`` + ``migrations/`` (Alembic
    revisions, under a lock), ``archive`` (articles, classifications), ``feed_health`` (and per-run feed
    history), ``ledger`` (Slack outbox), ``registry`` (models, their bytes, promotions), ``feedback``
    (reactions and votes), ``promotion`` (evaluation reports), ``briefs`` (story reads, novelty decisions,
    brief versions), ``console`` (the Airflow UI console's paged reads); ``Store``/``get_store`` combine them
``ingest/``       feeds and pages into the archive (uses config, store)
    ``http`` (the one HTTP client), ``netguard`` (SSRF guard), ``encoding``, ``feedparse`` (the adapter
    around feedparser), ``fastparse`` (lxml for well-formed RSS/Atom), ``pages`` (article main text),
    ``dates``, ``urls``, ``ingester``
``analysis/``     pure functions over article text (uses config)
    ``extract`` (companies, chips, counterparties, amounts), ``sentences`` (the one splitter),
    ``summarize``, ``stories`` (grouping), ``brief_groups`` (the sentence-group classifier), ``brief``
    (story briefs), ``brief_eval`` (the core-viewpoint rule against references), ``novelty``
``model/``        the classifier (uses config, analysis, store)
    ``features``, ``rules`` (the labelling guide's hard rules), ``estimator``, ``classifier``,
    ``registry`` (promoted model from the store, cached locally), ``dataset``, ``training``,
    ``evaluation``, ``metrics``, ``feedback`` (votes -> labels), ``replay`` (a candidate over the
    archive), ``promotion`` (the decision: promote, ask, keep)
``slack/``        everything sent to Slack (uses config, store)
    ``blocks`` (messages as values), ``client`` (the one Slack I/O module), ``ledger`` (exactly-once
    delivery, briefs edited in place), ``alerts`` (planning), ``digest`` (daily digest), ``ops``
    (operations channel), ``feedback`` (reactions read, votes acknowledged)
app (top)
    ``cycle`` (a run's steps, shared by DAGs and CLI), ``learning`` (the feedback loop's steps),
    ``runs`` (Airflow run -> window), ``cli``, ``sample_server`` (the demo's loopback feeds)
"""

from __future__ import annotations

__version__ = "0.2.0"

-- The store's schema as main created it on 2026-11-28 (Store.migrate: create_all + schema_info version 1),
-- generated from that commit's pipeline/store.py for sqlite. The upgrade test loads it, fills it and upgrades it.

CREATE TABLE alert_ledger (
	alert_id VARCHAR(64) NOT NULL, 
	channel VARCHAR(128) NOT NULL, 
	kind VARCHAR(24) NOT NULL, 
	story_id VARCHAR(40), 
	article_id VARCHAR(40), 
	parent_alert_id VARCHAR(64), 
	state VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	claim_token VARCHAR(64), 
	claimed_at DATETIME, 
	ts VARCHAR(32), 
	thread_ts VARCHAR(32), 
	permalink TEXT, 
	payload TEXT, 
	model_version VARCHAR(64), 
	run_id TEXT, 
	interval_start DATETIME, 
	interval_end DATETIME, 
	error TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	posted_at DATETIME, 
	PRIMARY KEY (alert_id)
);

CREATE INDEX ix_alert_ledger_state ON alert_ledger (state);

CREATE INDEX ix_alert_ledger_story ON alert_ledger (story_id, channel);

CREATE TABLE articles (
	article_id VARCHAR(40) NOT NULL, 
	feed_id VARCHAR(64) NOT NULL, 
	source_name TEXT, 
	guid TEXT, 
	url TEXT, 
	canonical_url TEXT, 
	title TEXT NOT NULL, 
	summary TEXT NOT NULL, 
	body TEXT, 
	language VARCHAR(8) NOT NULL, 
	published_at DATETIME, 
	first_seen_at DATETIME NOT NULL, 
	first_seen_run TEXT, 
	last_seen_at DATETIME NOT NULL, 
	event_at DATETIME NOT NULL, 
	page_status VARCHAR(20), 
	story_id VARCHAR(40), 
	minhash BLOB, 
	PRIMARY KEY (article_id)
);

CREATE INDEX ix_articles_canonical_url ON articles (canonical_url);

CREATE INDEX ix_articles_event_at ON articles (event_at);

CREATE INDEX ix_articles_first_seen_at ON articles (first_seen_at);

CREATE INDEX ix_articles_first_seen_run ON articles (first_seen_run);

CREATE INDEX ix_articles_story_id ON articles (story_id);

CREATE TABLE classifications (
	article_id VARCHAR(40) NOT NULL, 
	model_version VARCHAR(64) NOT NULL, 
	relevant BOOLEAN NOT NULL, 
	score FLOAT NOT NULL, 
	event_type VARCHAR(32), 
	companies TEXT NOT NULL, 
	chips TEXT NOT NULL, 
	counterparties TEXT NOT NULL, 
	amount TEXT, 
	summary TEXT NOT NULL, 
	error TEXT, 
	classified_at DATETIME NOT NULL, 
	PRIMARY KEY (article_id)
);

CREATE TABLE feed_state (
	feed_id VARCHAR(64) NOT NULL, 
	url TEXT NOT NULL, 
	etag TEXT, 
	last_modified TEXT, 
	last_attempt_at DATETIME, 
	last_success_at DATETIME, 
	consecutive_failures INTEGER NOT NULL, 
	last_error TEXT, 
	last_status INTEGER, 
	encoding VARCHAR(40), 
	items_last INTEGER NOT NULL, 
	items_seen INTEGER NOT NULL, 
	new_items_total INTEGER NOT NULL, 
	backoff_until DATETIME, 
	failure_notified BOOLEAN NOT NULL, 
	PRIMARY KEY (feed_id)
);

CREATE TABLE model_registry (
	version VARCHAR(64) NOT NULL, 
	path TEXT NOT NULL, 
	data_hash VARCHAR(64) NOT NULL, 
	metrics TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	promoted_at DATETIME, 
	is_current BOOLEAN NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE schema_info (
	id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	migrated_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

INSERT INTO schema_info (id, version, migrated_at) VALUES (1, 1, '2026-11-28 17:45:19');

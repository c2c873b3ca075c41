import GRDB

/// The store's tables. Each issue that adds tables adds its own migration here, after the others
/// (GRDB runs each once, in order, and records it in `grdb_migrations`).
///
/// Spans keep the sidecars' HTTP fields as columns, not JSON: a hop is stored by binding values,
/// with no encoding on the hot path of the writer, and the columns read back as the OpenTelemetry
/// attributes they stand for (`SpanRow`). `traces` is a roll-up the writer maintains so that the
/// trace list never groups a million spans. Spans point at their trace by its `seq` (the order
/// traces were first seen), not by the random trace id: the span index then grows at its end, a
/// few pages per batch, instead of dirtying a random page per span — the one random insert left is
/// the trace's, once per trace, into an index of 8-byte keys (`TraceKey`) rather than 32-character
/// ids: four times as many per page, so far fewer pages to write per batch.
enum TelemetrySchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-telemetry") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    started_ns INTEGER NOT NULL,
                    ended_ns INTEGER,
                    pid INTEGER NOT NULL,
                    root TEXT NOT NULL,
                    version TEXT NOT NULL
                );
                CREATE TABLE spans (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER,
                    trace_id TEXT NOT NULL,
                    span_id TEXT NOT NULL,
                    parent_span_id TEXT,
                    service TEXT NOT NULL,
                    instance TEXT,
                    kind INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    start_ns INTEGER NOT NULL,
                    duration_ns INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    status_message TEXT,
                    listener TEXT,
                    http_method TEXT,
                    http_target TEXT,
                    http_status INTEGER,
                    error_type TEXT,
                    host TEXT,
                    user_agent TEXT,
                    protocol_version TEXT,
                    peer_service TEXT,
                    upstream TEXT,
                    peer_address TEXT,
                    peer_port INTEGER,
                    attempts INTEGER,
                    bytes_in INTEGER,
                    bytes_out INTEGER,
                    source_principal TEXT,
                    attributes TEXT,
                    events TEXT,
                    resource TEXT,
                    scope TEXT,
                    trace_seq INTEGER NOT NULL
                );
                CREATE INDEX spans_by_trace ON spans(trace_seq);
                CREATE TABLE traces (
                    seq INTEGER PRIMARY KEY,
                    trace_key INTEGER NOT NULL,
                    trace_id TEXT NOT NULL,
                    run_id INTEGER,
                    start_ns INTEGER NOT NULL,
                    end_ns INTEGER NOT NULL,
                    span_count INTEGER NOT NULL,
                    error_count INTEGER NOT NULL,
                    root_rank INTEGER NOT NULL,
                    root_start_ns INTEGER NOT NULL,
                    root_service TEXT NOT NULL,
                    root_name TEXT NOT NULL,
                    root_method TEXT,
                    root_path TEXT,
                    root_status INTEGER,
                    services TEXT NOT NULL
                );
                CREATE UNIQUE INDEX traces_by_key ON traces(trace_key);
                CREATE INDEX traces_by_start ON traces(start_ns);
                CREATE TABLE logs (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER,
                    time_ns INTEGER NOT NULL,
                    service TEXT NOT NULL,
                    instance TEXT,
                    stream TEXT NOT NULL,
                    severity TEXT,
                    body TEXT NOT NULL,
                    trace_id TEXT,
                    span_id TEXT,
                    attributes TEXT
                );
                CREATE INDEX logs_by_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
                CREATE VIRTUAL TABLE logs_fts USING fts5(body, content='logs', content_rowid='id', tokenize='trigram');
                CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
                    INSERT INTO logs_fts(rowid, body) VALUES (new.id, new.body);
                END;
                CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
                    INSERT INTO logs_fts(logs_fts, rowid, body) VALUES ('delete', old.id, old.body);
                END;
                """)
        }
        migrator.registerMigration("v2-recordings") { db in
            // Record/replay: one row per recorded exchange, already redacted. Headers are JSON
            // arrays of [name, value] (order and repeats kept); bodies are the first bytes up to
            // the cap, `*_size` their full length.
            try db.execute(sql: """
                CREATE TABLE recordings (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER,
                    time_ns INTEGER NOT NULL,
                    trace_id TEXT NOT NULL,
                    span_id TEXT NOT NULL,
                    service TEXT NOT NULL,
                    listener TEXT NOT NULL,
                    source TEXT,
                    method TEXT NOT NULL,
                    target TEXT NOT NULL,
                    request_headers TEXT NOT NULL,
                    request_body BLOB,
                    request_size INTEGER NOT NULL,
                    status INTEGER,
                    response_headers TEXT NOT NULL,
                    response_body BLOB,
                    response_size INTEGER NOT NULL,
                    duration_ns INTEGER NOT NULL,
                    redactions INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX recordings_by_trace ON recordings(trace_id);
                CREATE INDEX recordings_by_service ON recordings(service, id);
                """)
        }
        migrator.registerMigration("v3-recordings-redacted") { db in
            // 0 for recordings of a `redact: false` route or service: stored as captured, and
            // compared with replayed answers that are not redacted either.
            try db.execute(sql: "ALTER TABLE recordings ADD COLUMN redacted INTEGER NOT NULL DEFAULT 1")
        }
        return migrator
    }
}

import Foundation
import Logging
import Store

/// The PostgreSQL schema as a versioned list of migrations, recorded in `schema_migrations`.
///
/// Version 1 is SQLite's `Schema.migrator` (v1 … v9) flattened into its final state and
/// translated: TEXT stays text, REAL becomes double precision, INTEGER becomes bigint (flags
/// stay integers, because the shared SQL says `is_open = 1`), BLOB becomes bytea. SQLite's
/// data fix-ups (v4, v5, v7 `UPDATE`s) only mattered for rows older than those releases, and
/// a new PostgreSQL store has none. New migrations are appended; a released one is never edited.
enum PostgresSchema {
    struct Migration: Sendable {
        let version: Int
        let name: String
        /// One statement each: the extended query protocol runs one at a time.
        let statements: [String]
    }

    static let migrations: [Migration] = [v1, v2, v3, v4, v5, v6, v7]

    /// Every node's migrator takes this session-level lock first, so nodes starting together
    /// migrate once: the second waits, then finds the versions recorded.
    static let lockSQL = "SELECT pg_advisory_lock(hashtextextended('millwright.schema_migrations', 0))"
    static let unlockSQL = "SELECT pg_advisory_unlock(hashtextextended('millwright.schema_migrations', 0))"

    static let v1 = Migration(version: 1, name: "initial (SQLite v1-v9, multi-node outbox columns, nodes)", statements: [
        """
        CREATE TABLE detections (
            id text PRIMARY KEY,                 -- the client's detection_id, or one we generate
            camera_id text NOT NULL,
            ts double precision NOT NULL,        -- detection time, Unix seconds
            received_at double precision NOT NULL,
            defect_class text NOT NULL,
            confidence double precision NOT NULL,
            status text NOT NULL,
            reason text NOT NULL,
            asset text,
            zone text NOT NULL DEFAULT '',
            incident_id text,
            bbox_area double precision,
            source_format text,
            payload text NOT NULL,               -- the normalised detection as JSON
            frame_sha256 text
        )
        """,
        "CREATE INDEX detections_key ON detections(asset, defect_class, zone, status, ts)",
        "CREATE INDEX detections_camera ON detections(camera_id, ts)",
        "CREATE INDEX detections_status ON detections(status, ts)",
        "CREATE INDEX detections_incident ON detections(incident_id)",
        // The lists' keyset order (newest first, the primary key breaking ties).
        "CREATE INDEX detections_list ON detections(ts, id)",

        """
        CREATE TABLE incidents (
            id text PRIMARY KEY,
            asset text NOT NULL,
            defect_class text NOT NULL,
            zone text NOT NULL DEFAULT '',
            camera_id text NOT NULL,
            state text NOT NULL,
            resolution text,
            is_open bigint NOT NULL,
            shadow bigint NOT NULL,
            opened_at double precision NOT NULL,
            closed_at double precision,
            first_seen double precision NOT NULL,
            last_seen double precision NOT NULL,
            detection_count bigint NOT NULL,
            max_confidence double precision NOT NULL,
            first_area double precision,
            last_area double precision,
            severity bigint NOT NULL,
            severity_breakdown text NOT NULL,
            priority text NOT NULL,
            priority_rule text NOT NULL,
            work_order_id text,
            evidence_sha256 text,
            evidence_note text,
            floor_announced text                 -- incident state the broker acknowledged
        )
        """,
        // The database, not only the code, guarantees one open incident per key.
        "CREATE UNIQUE INDEX one_open_incident ON incidents(asset, defect_class, zone) WHERE is_open = 1",
        "CREATE INDEX incidents_asset ON incidents(asset, opened_at)",
        "CREATE INDEX incidents_closed ON incidents(asset, defect_class, zone, closed_at)",
        "CREATE INDEX incidents_unannounced ON incidents(state) WHERE floor_announced IS NULL OR floor_announced != state",
        "CREATE INDEX incidents_list ON incidents(opened_at, id)",

        """
        CREATE TABLE work_orders (
            id text PRIMARY KEY,
            incident_id text NOT NULL UNIQUE REFERENCES incidents(id),
            reference text NOT NULL UNIQUE,
            cmms_name text NOT NULL,
            cmms_kind text NOT NULL,
            shadow bigint NOT NULL,
            phase text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            next_attempt_at double precision,
            must_verify bigint NOT NULL DEFAULT 0,
            cmms_id text,
            cmms_status text,
            last_error text,
            created_at double precision NOT NULL,
            delivered_at double precision,
            confirmed_detection_at double precision NOT NULL,
            repeats_unnoted bigint NOT NULL DEFAULT 0,
            status_checked_at double precision,
            payload text NOT NULL,
            evidence_attached bigint NOT NULL DEFAULT 0,
            -- The phase last confirmed published to the floor (re-announced after a crash).
            floor_announced text,
            assignee text,
            priority text,
            notify text NOT NULL DEFAULT '',
            notify_at double precision,
            notified_at double precision,
            acknowledged_at double precision,
            acknowledged_by text,
            -- Restarts that found the order in flight, and the step: the third quarantines it.
            crashes bigint NOT NULL DEFAULT 0,
            in_flight_step text,
            notify_attempts bigint NOT NULL DEFAULT 0,
            notify_remaining text,
            notify_error text,
            notify_gave_up_at double precision,
            -- Multi-node outbox: the node holding the delivery lease, until when, and a fencing
            -- number that grows with each lease so a node whose lease lapsed cannot write over
            -- its successor.
            lease_owner text,
            lease_until double precision,
            fence bigint NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX work_orders_due ON work_orders(cmms_name, phase, next_attempt_at)",
        "CREATE INDEX work_orders_unannounced ON work_orders(phase) WHERE floor_announced IS NULL",
        "CREATE INDEX work_orders_assignee ON work_orders(assignee) WHERE assignee IS NOT NULL",
        "CREATE INDEX work_orders_to_notify ON work_orders(phase) WHERE notified_at IS NULL",
        "CREATE INDEX work_orders_suspects ON work_orders(cmms_name) WHERE crashes > 0",
        "CREATE INDEX work_orders_list ON work_orders(created_at, id)",

        // SQLite's INTEGER PRIMARY KEY AUTOINCREMENT: the store inserts without an id and
        // lets the database number the rows, hence an identity column.
        """
        CREATE TABLE delivery_attempts (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            work_order_id text NOT NULL REFERENCES work_orders(id),
            at double precision NOT NULL,
            action text NOT NULL,
            outcome text NOT NULL,
            detail text,
            duration_ms double precision NOT NULL
        )
        """,
        "CREATE INDEX delivery_attempts_wo ON delivery_attempts(work_order_id)",

        // Identity for the same reason as delivery_attempts.
        """
        CREATE TABLE feedback (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            incident_id text NOT NULL REFERENCES incidents(id),
            at double precision NOT NULL,
            verdict text NOT NULL,
            by text,
            note text,
            source text NOT NULL
        )
        """,

        // seq is SQLite's INTEGER PRIMARY KEY (a rowid alias), but the store always writes it
        // (last + 1, inside the transaction that appends), so a plain bigint key keeps the
        // chain's numbering the store's own.
        """
        CREATE TABLE audit (
            seq bigint PRIMARY KEY,
            at double precision NOT NULL,
            kind text NOT NULL,
            subject text NOT NULL,
            data text NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL
        )
        """,
        "CREATE INDEX audit_subject ON audit(subject)",
        // SQLite's audit_no_update / audit_no_delete triggers; TRUNCATE too, which SQLite lacks.
        """
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only';
        END
        $$
        """,
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",

        "CREATE TABLE camera_snapshots (camera_id text NOT NULL, sha256 text NOT NULL, at double precision NOT NULL)",
        "CREATE INDEX camera_snapshots_at ON camera_snapshots(camera_id, at)",

        // Stock as the storeroom export says (on_hand, external_reserved) plus what Millwright holds.
        """
        CREATE TABLE inventory (
            sku text PRIMARY KEY,
            on_hand bigint NOT NULL CHECK (on_hand >= 0),
            external_reserved bigint NOT NULL DEFAULT 0 CHECK (external_reserved >= 0),
            reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
            location text,
            imported_at double precision NOT NULL
        )
        """,
        """
        CREATE TABLE part_reservations (
            incident_id text NOT NULL REFERENCES incidents(id),
            sku text NOT NULL,
            qty bigint NOT NULL CHECK (qty > 0),
            status text NOT NULL,                -- reserved | short | unknown | released | consumed
            at double precision NOT NULL,
            settled_at double precision,
            PRIMARY KEY (incident_id, sku)
        )
        """,
        "CREATE INDEX part_reservations_status ON part_reservations(status, at)",
        "CREATE INDEX part_reservations_list ON part_reservations(at, incident_id, sku)",

        """
        CREATE TABLE escalations (
            work_order_id text PRIMARY KEY REFERENCES work_orders(id),
            state text NOT NULL,
            next_due double precision
        )
        """,
        "CREATE INDEX escalations_due ON escalations(next_due) WHERE next_due IS NOT NULL",

        // Small durable values (the notifier's held digests).
        "CREATE TABLE settings_kv (key text PRIMARY KEY, value bytea NOT NULL)",

        // Open work per technician as the CMMS reports it (all of it, Millwright's included).
        "CREATE TABLE external_load (assignee text PRIMARY KEY, open bigint NOT NULL CHECK (open >= 0), at double precision NOT NULL)",

        // The gateways sharing this database, each announcing itself and beating its heart.
        """
        CREATE TABLE nodes (
            node_id text PRIMARY KEY,
            started_at double precision NOT NULL,
            heartbeat_at double precision NOT NULL,
            version text NOT NULL
        )
        """,
    ])

    static let v2 = Migration(version: 2, name: "repeats counted on the incident only (SQLite v11)", statements: [
        "ALTER TABLE work_orders ADD COLUMN repeats_noted bigint NOT NULL DEFAULT 0",
        """
        UPDATE work_orders SET repeats_noted = GREATEST(0, COALESCE((SELECT i.detection_count - 1 FROM incidents i WHERE i.id = work_orders.incident_id), 0)
                                                          - repeats_unnoted)
        """,
        "ALTER TABLE work_orders DROP COLUMN repeats_unnoted",
    ])

    static let v3 = Migration(version: 3, name: "named users, login failures and sessions (SQLite v12)", statements: [
        """
        CREATE TABLE users (
            name text PRIMARY KEY,
            full_name text NOT NULL,
            role text NOT NULL,
            password_hash text NOT NULL,
            totp_secret text,
            disabled bigint NOT NULL DEFAULT 0,
            locked_at double precision,
            created_at double precision NOT NULL,
            password_set_at double precision NOT NULL
        )
        """,
        "CREATE TABLE login_failures (user_name text NOT NULL, at double precision NOT NULL)",
        "CREATE INDEX login_failures_user ON login_failures(user_name, at)",
        """
        CREATE TABLE user_sessions (
            token_sha256 text PRIMARY KEY,
            user_name text NOT NULL,
            created_at double precision NOT NULL,
            last_seen double precision NOT NULL
        )
        """,
        "CREATE INDEX user_sessions_user ON user_sessions(user_name)",
        "CREATE INDEX audit_kind ON audit(kind, seq)",
    ])

    static let v4 = Migration(version: 4, name: "notes for the CMMS (SQLite v13)", statements: [
        """
        CREATE TABLE cmms_notes (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            work_order_id text NOT NULL,
            kind text NOT NULL,
            text text NOT NULL,
            created_at double precision NOT NULL,
            sent_at double precision,
            attempts bigint NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX cmms_notes_pending ON cmms_notes(work_order_id) WHERE sent_at IS NULL",
    ])

    static let v5 = Migration(version: 5, name: "the manual inspection log (SQLite v14)", statements: [
        """
        CREATE TABLE manual_findings (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            found_at double precision NOT NULL,
            date_only bigint NOT NULL,
            asset text NOT NULL,
            defect_class text NOT NULL,
            found_by text NOT NULL,
            notes text,
            source_line bigint NOT NULL,
            file_sha256 text NOT NULL,
            imported_at double precision NOT NULL,
            imported_by text NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX manual_findings_once ON manual_findings(found_at, asset, defect_class, found_by)",
        "CREATE INDEX incidents_first_seen ON incidents(shadow, first_seen)",
    ])

    static let v6 = Migration(version: 6, name: "closure read back from the CMMS (SQLite v15)", statements: [
        """
        CREATE TABLE cmms_readbacks (
            work_order_id text PRIMARY KEY,
            incident_id text NOT NULL,
            outcome text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            read_at double precision,
            closure_code text,
            notes text,
            photo_sha256 text,
            photo_name text,
            refused text,
            last_error text
        )
        """,
        "CREATE INDEX cmms_readbacks_incident ON cmms_readbacks(incident_id)",
        "CREATE INDEX cmms_readbacks_photo ON cmms_readbacks(read_at) WHERE photo_sha256 IS NOT NULL",
    ])

    static let v7 = Migration(version: 7, name: "a key's detections indexed only while pending (SQLite v16)", statements: [
        "DROP INDEX detections_key",
        "CREATE INDEX detections_pending ON detections(asset, defect_class, zone, ts) WHERE status = 'pending_confirmation'",
    ])

    /// Brings the connection's schema (`search_path`) up to the newest version, creating the
    /// schema if missing. Runs outside any transaction; each migration is its own transaction.
    static func migrate(_ session: PostgresSession, schema: String, logger: Logger) throws {
        try session.raw(lockSQL)
        defer { try? session.raw(unlockSQL) }
        try session.raw("CREATE SCHEMA IF NOT EXISTS \(quoted(schema))")
        try session.raw("""
            CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at double precision NOT NULL)
            """)
        let applied = Set(try session.rows("SELECT version FROM schema_migrations", []).compactMap { row -> Int? in row["version"] })
        let newest = migrations.map(\.version).max() ?? 0
        if let ahead = applied.max(), ahead > newest {
            throw PostgresBackendError.configuration(
                "schema \(schema) is at version \(ahead), newer than this build knows (\(newest)); run the newer gateway or another schema")
        }
        for migration in migrations where !applied.contains(migration.version) {
            try session.raw("BEGIN")
            do {
                for statement in migration.statements { try session.raw(statement) }
                try session.run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, extract(epoch from clock_timestamp()))",
                                [migration.version])
                try session.raw("COMMIT")
            } catch {
                try? session.raw("ROLLBACK")
                throw error
            }
            logger.info("applied PostgreSQL migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)", "schema": "\(schema)"])
        }
    }

    /// An identifier in double quotes (the settings only allow letters, digits and `_`,
    /// but quoting keeps a mixed-case name as written).
    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

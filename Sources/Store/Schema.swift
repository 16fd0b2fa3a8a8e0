import GRDB

enum Schema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
            CREATE TABLE detections (
                id TEXT PRIMARY KEY,              -- the client's detection_id, or one we generate
                camera_id TEXT NOT NULL,
                ts REAL NOT NULL,                 -- detection time, Unix seconds
                received_at REAL NOT NULL,
                defect_class TEXT NOT NULL,
                confidence REAL NOT NULL,
                status TEXT NOT NULL,
                reason TEXT NOT NULL,
                asset TEXT,
                zone TEXT NOT NULL DEFAULT '',
                incident_id TEXT,
                bbox_area REAL,
                source_format TEXT,
                payload TEXT NOT NULL             -- the normalised detection as JSON
            );
            CREATE INDEX detections_key ON detections(asset, defect_class, zone, status, ts);
            CREATE INDEX detections_camera ON detections(camera_id, ts);
            CREATE INDEX detections_status ON detections(status, ts);
            CREATE INDEX detections_incident ON detections(incident_id);

            CREATE TABLE incidents (
                id TEXT PRIMARY KEY,
                asset TEXT NOT NULL,
                defect_class TEXT NOT NULL,
                zone TEXT NOT NULL DEFAULT '',
                camera_id TEXT NOT NULL,
                state TEXT NOT NULL,
                resolution TEXT,
                is_open INTEGER NOT NULL,
                shadow INTEGER NOT NULL,
                opened_at REAL NOT NULL,
                closed_at REAL,
                first_seen REAL NOT NULL,
                last_seen REAL NOT NULL,
                detection_count INTEGER NOT NULL,
                max_confidence REAL NOT NULL,
                first_area REAL,
                last_area REAL,
                severity INTEGER NOT NULL,
                severity_breakdown TEXT NOT NULL,
                priority TEXT NOT NULL,
                priority_rule TEXT NOT NULL,
                work_order_id TEXT
            );
            -- The database, not only the code, guarantees one open incident per key.
            CREATE UNIQUE INDEX one_open_incident ON incidents(asset, defect_class, zone) WHERE is_open = 1;
            CREATE INDEX incidents_asset ON incidents(asset, opened_at);
            CREATE INDEX incidents_closed ON incidents(asset, defect_class, zone, closed_at);

            CREATE TABLE work_orders (
                id TEXT PRIMARY KEY,
                incident_id TEXT NOT NULL UNIQUE REFERENCES incidents(id),
                reference TEXT NOT NULL UNIQUE,
                cmms_name TEXT NOT NULL,
                cmms_kind TEXT NOT NULL,
                shadow INTEGER NOT NULL,
                phase TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL,
                must_verify INTEGER NOT NULL DEFAULT 0,
                cmms_id TEXT,
                cmms_status TEXT,
                last_error TEXT,
                created_at REAL NOT NULL,
                delivered_at REAL,
                confirmed_detection_at REAL NOT NULL,
                repeats_unnoted INTEGER NOT NULL DEFAULT 0,
                status_checked_at REAL,
                payload TEXT NOT NULL
            );
            CREATE INDEX work_orders_due ON work_orders(cmms_name, phase, next_attempt_at);

            CREATE TABLE delivery_attempts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                work_order_id TEXT NOT NULL REFERENCES work_orders(id),
                at REAL NOT NULL,
                action TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT,
                duration_ms REAL NOT NULL
            );
            CREATE INDEX delivery_attempts_wo ON delivery_attempts(work_order_id);

            CREATE TABLE feedback (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                incident_id TEXT NOT NULL REFERENCES incidents(id),
                at REAL NOT NULL,
                verdict TEXT NOT NULL,
                by TEXT,
                note TEXT,
                source TEXT NOT NULL
            );

            CREATE TABLE audit (
                seq INTEGER PRIMARY KEY,
                at REAL NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                data TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            );
            CREATE INDEX audit_subject ON audit(subject);
            CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            """)
        }
        m.registerMigration("v2-evidence") { db in
            try db.execute(sql: """
            ALTER TABLE incidents ADD COLUMN evidence_sha256 TEXT;
            ALTER TABLE incidents ADD COLUMN evidence_note TEXT;
            ALTER TABLE detections ADD COLUMN frame_sha256 TEXT;
            ALTER TABLE work_orders ADD COLUMN evidence_attached INTEGER NOT NULL DEFAULT 0;
            """)
        }
        m.registerMigration("v3-snapshots") { db in
            try db.execute(sql: """
            CREATE TABLE camera_snapshots (camera_id TEXT NOT NULL, sha256 TEXT NOT NULL, at REAL NOT NULL);
            CREATE INDEX camera_snapshots_at ON camera_snapshots(camera_id, at);
            """)
        }
        m.registerMigration("v4-floor") { db in
            // The phase last confirmed published to the floor, so a crash between the CMMS
            // answer and the MQTT PUBACK re-announces instead of staying silent.
            try db.execute(sql: """
            ALTER TABLE work_orders ADD COLUMN floor_announced TEXT;
            CREATE INDEX work_orders_unannounced ON work_orders(phase) WHERE floor_announced IS NULL;
            -- Outcomes from before this release are old news, not announcements to replay.
            UPDATE work_orders SET floor_announced = phase WHERE phase IN ('delivered', 'dead_letter');
            """)
        }
        m.registerMigration("v5-dispatch") { db in
            try db.execute(sql: """
            ALTER TABLE work_orders ADD COLUMN assignee TEXT;
            ALTER TABLE work_orders ADD COLUMN priority TEXT;
            ALTER TABLE work_orders ADD COLUMN notify TEXT NOT NULL DEFAULT '';
            ALTER TABLE work_orders ADD COLUMN notify_at REAL;
            ALTER TABLE work_orders ADD COLUMN notified_at REAL;
            ALTER TABLE work_orders ADD COLUMN acknowledged_at REAL;
            ALTER TABLE work_orders ADD COLUMN acknowledged_by TEXT;
            CREATE INDEX work_orders_assignee ON work_orders(assignee) WHERE assignee IS NOT NULL;
            CREATE INDEX work_orders_to_notify ON work_orders(phase) WHERE notified_at IS NULL;
            -- Work orders from before this release were dispatched without notifications; do not page for them now.
            UPDATE work_orders SET notified_at = created_at;

            -- Stock as the storeroom export says (on_hand, external_reserved) plus what Millwright holds.
            CREATE TABLE inventory (
                sku TEXT PRIMARY KEY,
                on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
                external_reserved INTEGER NOT NULL DEFAULT 0 CHECK (external_reserved >= 0),
                reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
                location TEXT,
                imported_at REAL NOT NULL
            );
            CREATE TABLE part_reservations (
                incident_id TEXT NOT NULL REFERENCES incidents(id),
                sku TEXT NOT NULL,
                qty INTEGER NOT NULL CHECK (qty > 0),
                status TEXT NOT NULL,            -- reserved | short | unknown | released | consumed
                at REAL NOT NULL,
                settled_at REAL,
                PRIMARY KEY (incident_id, sku)
            );
            CREATE INDEX part_reservations_status ON part_reservations(status, at);

            CREATE TABLE escalations (
                work_order_id TEXT PRIMARY KEY REFERENCES work_orders(id),
                state TEXT NOT NULL,
                next_due REAL
            );
            CREATE INDEX escalations_due ON escalations(next_due) WHERE next_due IS NOT NULL;

            -- Small durable values (the notifier's held digests).
            CREATE TABLE settings_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
            """)
        }
        m.registerMigration("v6-cmms-load") { db in
            // Open work per technician as the CMMS reports it (all of it, Millwright's included).
            try db.execute(sql: "CREATE TABLE external_load (assignee TEXT PRIMARY KEY, open INTEGER NOT NULL CHECK (open >= 0), at REAL NOT NULL)")
        }
        m.registerMigration("v7-floor-incidents") { db in
            // Incident state the broker acknowledged, like work_orders.floor_announced.
            try db.execute(sql: """
            ALTER TABLE incidents ADD COLUMN floor_announced TEXT;
            UPDATE incidents SET floor_announced = state;
            CREATE INDEX incidents_unannounced ON incidents(state) WHERE floor_announced IS NULL OR floor_announced != state;
            """)
        }
        m.registerMigration("v8-hardening") { db in
            // Restarts that found a work order in flight, and the step it was in: the third
            // crash in a row quarantines it instead of crashing the gateway a fourth time.
            // Notifications are retried per recipient until they succeed or finally give up.
            try db.execute(sql: """
            ALTER TABLE work_orders ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE work_orders ADD COLUMN in_flight_step TEXT;
            ALTER TABLE work_orders ADD COLUMN notify_attempts INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE work_orders ADD COLUMN notify_remaining TEXT;
            ALTER TABLE work_orders ADD COLUMN notify_error TEXT;
            ALTER TABLE work_orders ADD COLUMN notify_gave_up_at REAL;
            CREATE INDEX work_orders_suspects ON work_orders(cmms_name) WHERE crashes > 0;
            """)
        }
        m.registerMigration("v9-list-order") { db in
            // The lists' keyset order (newest first, the primary key breaking ties), so a page
            // is an index range walked backwards instead of a sort of the whole table.
            try db.execute(sql: """
            CREATE INDEX detections_list ON detections(ts, id);
            CREATE INDEX incidents_list ON incidents(opened_at, id);
            CREATE INDEX work_orders_list ON work_orders(created_at, id);
            CREATE INDEX part_reservations_list ON part_reservations(at, incident_id, sku);
            """)
        }
        m.registerMigration("v10-cluster") { db in
            // Several nodes on one database (PostgreSQL; the same columns on SQLite keep one
            // store logic): a claim is a lease held by one node, and its fence token goes up
            // with every claim, so a node whose lease was taken over cannot record an outcome.
            try db.execute(sql: """
            ALTER TABLE work_orders ADD COLUMN lease_owner TEXT;
            ALTER TABLE work_orders ADD COLUMN lease_until REAL;
            ALTER TABLE work_orders ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE nodes (node_id TEXT PRIMARY KEY, started_at REAL NOT NULL, heartbeat_at REAL NOT NULL, version TEXT NOT NULL);
            """)
        }
        m.registerMigration("v11-repeats-noted") { db in
            // Repeats are counted on the incident alone (detection_count); the work order keeps
            // how many the CMMS was told about, so ingest never locks a work order's row.
            try db.execute(sql: """
            ALTER TABLE work_orders ADD COLUMN repeats_noted INTEGER NOT NULL DEFAULT 0;
            UPDATE work_orders SET repeats_noted = MAX(0, COALESCE((SELECT i.detection_count - 1 FROM incidents i WHERE i.id = work_orders.incident_id), 0) - repeats_unnoted);
            ALTER TABLE work_orders DROP COLUMN repeats_unnoted;
            """)
        }
        m.registerMigration("v12-users") { db in
            // Named people (21 CFR Part 11): bcrypt hashes only; failed logins for the lockout
            // window; login sessions by the SHA-256 of their token, never the token itself.
            try db.execute(sql: """
            CREATE TABLE users (
                name TEXT PRIMARY KEY,
                full_name TEXT NOT NULL,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                totp_secret TEXT,
                disabled INTEGER NOT NULL DEFAULT 0,
                locked_at REAL,
                created_at REAL NOT NULL,
                password_set_at REAL NOT NULL
            );
            CREATE TABLE login_failures (user_name TEXT NOT NULL, at REAL NOT NULL);
            CREATE INDEX login_failures_user ON login_failures(user_name, at);
            CREATE TABLE user_sessions (
                token_sha256 TEXT PRIMARY KEY,
                user_name TEXT NOT NULL,
                created_at REAL NOT NULL,
                last_seen REAL NOT NULL
            );
            CREATE INDEX user_sessions_user ON user_sessions(user_name);
            CREATE INDEX audit_kind ON audit(kind, seq);
            """)
        }
        m.registerMigration("v13-cmms-notes") { db in
            // Notes for the CMMS written with the decision they report (a verdict and its
            // signature), sent by status sync once the work order has a CMMS id.
            try db.execute(sql: """
            CREATE TABLE cmms_notes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                work_order_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                created_at REAL NOT NULL,
                sent_at REAL,
                attempts INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX cmms_notes_pending ON cmms_notes(work_order_id) WHERE sent_at IS NULL;
            """)
        }
        m.registerMigration("v14-manual-findings") { db in
            // The plant's manual inspection log, for the shadow report. The unique key makes a
            // second import of the same file add nothing.
            try db.execute(sql: """
            CREATE TABLE manual_findings (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                found_at REAL NOT NULL,
                date_only INTEGER NOT NULL,
                asset TEXT NOT NULL,
                defect_class TEXT NOT NULL,
                found_by TEXT NOT NULL,
                notes TEXT,
                source_line INTEGER NOT NULL,
                file_sha256 TEXT NOT NULL,
                imported_at REAL NOT NULL,
                imported_by TEXT NOT NULL
            );
            CREATE UNIQUE INDEX manual_findings_once ON manual_findings(found_at, asset, defect_class, found_by);
            CREATE INDEX incidents_first_seen ON incidents(shadow, first_seen);
            """)
        }
        m.registerMigration("v15-cmms-readbacks") { db in
            // What the CMMS says was done once a work order closed (closure code, the technician's
            // notes, the completion photo in the evidence store by its hash), read back once.
            try db.execute(sql: """
            CREATE TABLE cmms_readbacks (
                work_order_id TEXT PRIMARY KEY,
                incident_id TEXT NOT NULL,
                outcome TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                read_at REAL,
                closure_code TEXT,
                notes TEXT,
                photo_sha256 TEXT,
                photo_name TEXT,
                refused TEXT,
                last_error TEXT
            );
            CREATE INDEX cmms_readbacks_incident ON cmms_readbacks(incident_id);
            CREATE INDEX cmms_readbacks_photo ON cmms_readbacks(read_at) WHERE photo_sha256 IS NOT NULL;
            """)
        }
        m.registerMigration("v16-pending-index") { db in
            // The decision looks a key's detections up only while they wait for confirmation;
            // every other detection (nearly all of them) no longer pays for an entry.
            try db.execute(sql: """
            DROP INDEX detections_key;
            CREATE INDEX detections_pending ON detections(asset, defect_class, zone, ts) WHERE status = 'pending_confirmation';
            """)
        }
        return m
    }
}

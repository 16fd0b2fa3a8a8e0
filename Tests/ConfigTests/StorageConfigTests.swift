import Config
import Connectors
import MillwrightCore
import Testing

@Suite struct PostgresURLTests {
    func parsed(_ url: String) throws -> PostgresSettings {
        switch PostgresSettings.parse(url: url) {
        case .success(let s): return s
        case .failure(let p): throw p
        }
    }

    func problem(_ url: String) -> FieldProblem? {
        if case .failure(let p) = PostgresSettings.parse(url: url) { return p }
        return nil
    }

    @Test func aFullURLIsRead() throws {
        let s = try parsed("postgres://mw:s3cret@db.plant.local:6432/millwright?sslmode=require&sslrootcert=/etc/mw/ca.pem")
        #expect(s == PostgresSettings(host: "db.plant.local", port: 6432, user: "mw", password: "s3cret", database: "millwright",
                                      tls: .require, rootCertificatePath: "/etc/mw/ca.pem"))
        #expect(s.schema == "millwright")
        #expect(s.pool == 8)
    }

    @Test func defaultsArePort5432AndVerifyFull() throws {
        let s = try parsed("postgresql://mw@db/plant")
        #expect(s.port == 5432)
        #expect(s.password == nil)
        #expect(s.tls == .verifyFull)
        #expect(try parsed("postgres://mw@db/plant?sslmode=disable").tls == .disable)
        #expect(try parsed("postgres://mw@db/plant?sslmode=verify-full").tls == .verifyFull)
    }

    @Test func userAndPasswordArePercentDecoded() throws {
        let s = try parsed("postgres://mill%40wright:p%40ss%3Aw%2Frd%25@[::1]:5433/db")
        #expect(s.user == "mill@wright")
        #expect(s.password == "p@ss:w/rd%")
        #expect(s.host == "::1")
        #expect(s.port == 5433)
        #expect(s.location == "[::1]:5433/db (millwright)")
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let s = try parsed("postgres://mw:hunter2hunter2@db:5432/plant")
        #expect(!"\(s)".contains("hunter2"))
        #expect(s.location == "db:5432/plant (millwright)")
        #expect(problem("postgres://mw:hunter2hunter2@db:99999/plant")?.problem.contains("hunter2") == false)
    }

    @Test func mistakesSayWhatAndHowToFix() {
        let cases: [(String, String, String)] = [
            ("mysql://u@h/db", "scheme", "must start with postgres://"),
            ("postgres://u@h", "database", "end the URL with /DATABASE"),
            ("postgres://u@h/", "database", "end the URL with /DATABASE"),
            ("postgres://h/db", "user", "names no user"),
            ("postgres://u@:5432/db", "host", "names no host"),
            ("postgres://u@h:port/db", "port", "from 1 to 65535"),
            ("postgres://u@h:0/db", "port", "from 1 to 65535"),
            ("postgres://u@h/db?sslmode=prefer", "sslmode", "use one of disable, require, verify-full"),
            ("postgres://u@h/db?connect_timeout=3", "connect_timeout", "takes sslmode and sslrootcert"),
            ("postgres://u@h/db?sslmode=disable&sslrootcert=/x.pem", "sslrootcert", "remove one of them"),
            ("postgres://u:%zz@h/db", "password", "bad percent escape"),
        ]
        for (url, field, text) in cases {
            let p = problem(url)
            #expect(p?.field == field, "\(url)")
            #expect(p?.problem.contains(text) == true, "\(url): \(p?.problem ?? "accepted")")
        }
    }

    @Test func schemaNamesAreIdentifiers() {
        #expect(PostgresSettings.isValidSchemaName("millwright"))
        #expect(PostgresSettings.isValidSchemaName("_plant_2"))
        #expect(!PostgresSettings.isValidSchemaName("2plant"))
        #expect(!PostgresSettings.isValidSchemaName("plant-a"))
        #expect(!PostgresSettings.isValidSchemaName("x\"; DROP TABLE audit; --"))
        #expect(!PostgresSettings.isValidSchemaName(""))
        #expect(!PostgresSettings.isValidSchemaName(String(repeating: "a", count: 64)))
    }
}

@Suite struct StorageConfigTests {
    let url = "postgres://mw:pg-pass-1234@db.plant:5432/millwright?sslmode=verify-full"

    func parse(_ yaml: String, env: [String: String]? = nil, requireSecrets: Bool = true) throws(ConfigError) -> Settings {
        try ConfigLoader.parse(yaml: yaml, file: "plant.yaml", cmmsKinds: CMMSRegistry.all, environment: env ?? ["MW_PG_URL": url],
                               requireSecrets: requireSecrets)
    }

    func error(_ yaml: String, env: [String: String]? = nil) -> ConfigError? {
        do { _ = try parse(yaml, env: env); return nil } catch { return error }
    }

    @Test func postgresComesFromTheNamedVariable() throws {
        let s = try parse("storage: { postgres: { url_env: MW_PG_URL, pool: 12, schema: plant_a } }\n")
        guard case .postgres(let pg) = s.storage else { Issue.record("storage is \(s.storage)"); return }
        #expect(pg.host == "db.plant")
        #expect(pg.user == "mw")
        #expect(pg.password == "pg-pass-1234")
        #expect(pg.pool == 12)
        #expect(pg.schema == "plant_a")
        #expect(pg.tls == .verifyFull)
        let defaults = try parse("storage:\n  postgres:\n    url_env: MW_PG_URL\n")
        #expect(defaults.storage == .postgres(PostgresSettings(host: "db.plant", user: "mw", password: "pg-pass-1234", database: "millwright")))
    }

    /// PRODUCT.md's short form: the URL in the file (for servers that need no password in it).
    @Test func theShortFormTakesTheURLItself() throws {
        let s = try parse("storage: { postgres: \"postgres://mw@db.plant:5433/plant?sslmode=require\" }\n")
        #expect(s.storage == .postgres(PostgresSettings(host: "db.plant", port: 5433, user: "mw", database: "plant", tls: .require)))
    }

    @Test func sqliteIsUnchanged() throws {
        #expect(try parse("storage: { sqlite: /var/lib/mw/db.sqlite }\n").storage == .sqlite(path: "/var/lib/mw/db.sqlite"))
    }

    @Test func mistakesNameFileLineKeyAndTheFix() {
        let cases: [(String, [String: String]?, Int?, String, String)] = [
            ("storage: { postgres: \"postgres://u:topsecretpw@h/db?sslmode=allow\" }\n", nil, 1, "storage.postgres", "or write { url_env: MW_PG_URL }"),
            ("storage: { postgres: { pool: 4 } }\n", nil, 1, "storage.postgres", "needs url_env"),
            ("storage: { postgres: { url_env: MW_PG_URL, pool: 0 } }\n", nil, 1, "storage.postgres.pool", "between 1 and 64"),
            ("storage: { postgres: { url_env: MW_PG_URL, pool: 65 } }\n", nil, 1, "storage.postgres.pool", "between 1 and 64"),
            ("storage: { postgres: { url_env: MW_PG_URL, schema: plant-a } }\n", nil, 1, "storage.postgres.schema", "letters, digits and _"),
            ("storage: { postgres: { url_env: MW_PG_URL, sslmode: disable } }\n", nil, 1, "storage.postgres.sslmode", "unknown key"),
            ("storage:\n  postgres: { url_env: MW_PG_URL }\n", [:], 2, "storage.postgres.url_env", "MW_PG_URL is not set"),
            ("storage:\n  postgres: { url_env: MW_PG_URL }\n", ["MW_PG_URL": "postgres://u:topsecretpw@h/db?sslmode=allow"], 2,
             "storage.postgres.url_env", "environment variable MW_PG_URL: sslmode=allow is not supported"),
            ("storage: { sqlite: a.db, postgres: { url_env: MW_PG_URL } }\n", nil, 1, "storage", "exactly one of"),
        ]
        for (yaml, env, line, key, text) in cases {
            guard let e = error(yaml, env: env) else { Issue.record("accepted: \(yaml)"); continue }
            #expect(e.file == "plant.yaml", "\(yaml)")
            #expect(e.line == line, "\(yaml): line \(String(describing: e.line))")
            #expect(e.key == key, "\(yaml)")
            #expect(e.message.contains(text), "\(yaml): \(e.message)")
            #expect(!e.description.contains("topsecretpw"))
        }
    }

    @Test func offlineCommandsNeedNoURL() throws {
        let s = try parse("storage: { postgres: { url_env: MW_PG_URL, schema: plant_b } }\n", env: [:], requireSecrets: false)
        guard case .postgres(let pg) = s.storage else { Issue.record("storage is \(s.storage)"); return }
        #expect(pg.schema == "plant_b")
    }

    @Test func thePasswordCountsAsASecret() throws {
        let s = try parse("storage: { postgres: { url_env: MW_PG_URL } }\n")
        #expect(s.environmentValues.contains("pg-pass-1234"))
        #expect(s.environmentValues.contains(url))
    }
}

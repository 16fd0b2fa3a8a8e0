import Foundation
import MillwrightCore

extension ConfigLoader {
    /// `storage: { postgres: { url_env: MW_PG_URL, pool: 8, schema: millwright } }`. The URL
    /// holds the password, so it is only ever read from the named environment variable, and
    /// errors name the variable and the part of the URL at fault, never the URL itself.
    static func postgres(_ n: YAMLNode) throws(ConfigError) -> PostgresSettings {
        guard n.node.mapping != nil else {
            // The short form of PRODUCT.md, `postgres: "postgres://…"`. Keep the password out
            // of it (a .pgpass-less server with trust or cert auth), or use url_env.
            let url = try n.string()
            switch PostgresSettings.parse(url: url) {
            case .success(let parsed):
                if let password = parsed.password, !password.isEmpty { n.env.used(password) }
                return parsed
            case .failure(let p):
                throw n.error("\(p.problem); or write { url_env: MW_PG_URL } and put the URL (with its password) in that environment variable")
            }
        }
        let entries = try n.requireMapping(allowed: ["url_env", "pool", "schema"])
        guard let urlNode = n.child("url_env") else {
            throw n.error("needs url_env naming the environment variable that holds postgres://USER:PASSWORD@HOST:5432/DATABASE")
        }
        let variable = try urlNode.string()
        let url = try n.secret(fromEnvKey: "url_env")
        var settings: PostgresSettings
        if url.isEmpty, !n.env.requireSecrets {
            // An offline command (`assets validate`, `replay --shadow`) never connects.
            settings = PostgresSettings(host: "(\(variable) not set)", user: "", database: "")
        } else {
            switch PostgresSettings.parse(url: url) {
            case .success(let parsed): settings = parsed
            case .failure(let p): throw urlNode.error("environment variable \(variable): \(p.problem)")
            }
        }
        // The password is a secret of its own: no later message may print it either.
        if let password = settings.password, !password.isEmpty { n.env.used(password) }
        for (key, v) in entries {
            switch key {
            case "pool":
                let r = PostgresSettings.poolRange
                settings.pool = try v.int(in: r)
            case "schema":
                let name = try v.string()
                guard PostgresSettings.isValidSchemaName(name) else {
                    throw v.error("'\(name)' is not a usable schema name; use letters, digits and _ (not starting with a digit, at most 63), e.g. millwright")
                }
                settings.schema = name
            default: break
            }
        }
        return settings
    }
}

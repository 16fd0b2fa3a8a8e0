import Foundation

/// Where and how the PostgreSQL store connects (`storage: { postgres: { url_env, pool, schema } }`).
/// The connection URL comes from the environment, so the password is never in the file; this
/// type prints without it.
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    /// `sslmode` in the URL. Both TLS modes verify the certificate chain (against the system
    /// roots, or `sslrootcert`); `verify-full` also checks the certificate names the host.
    /// Unlike libpq's `require`, ours never accepts an unverified certificate: a gateway that
    /// writes work orders should not trust whoever answers on the port.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable
        case require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The schema every table lives in (created if missing); one database can hold several gateways.
    public var schema: String
    /// Connections, and threads that run transactions on them.
    public var pool: Int
    public var tls: TLSMode
    /// A PEM bundle of CA certificates to trust instead of the system's (`sslrootcert=PATH`).
    public var rootCertificatePath: String?

    public static let defaultPort = 5432
    public static let defaultSchema = "millwright"
    public static let defaultPool = 8
    public static let poolRange = 1...64

    public init(host: String, port: Int = PostgresSettings.defaultPort, user: String, password: String? = nil, database: String,
                schema: String = PostgresSettings.defaultSchema, pool: Int = PostgresSettings.defaultPool,
                tls: TLSMode = .verifyFull, rootCertificatePath: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password; self.database = database
        self.schema = schema; self.pool = pool; self.tls = tls; self.rootCertificatePath = rootCertificatePath
    }

    /// `host:port/database (schema)`: for logs and errors, never with the password.
    public var location: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(h):\(port)/\(database) (\(schema))"
    }

    public var description: String { "postgres \(user)@\(location) sslmode=\(tls.rawValue)" }

    /// The example every URL error ends with.
    public static let urlExample = "postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full"

    /// Reads `postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`
    /// (`postgresql://` too). User and password are percent-decoded, so a password with `@`,
    /// `:` or `/` is written `%40`, `%3A`, `%2F`. Without `sslmode` the connection is
    /// `verify-full`. The problem never quotes the password.
    public static func parse(url: String) -> Result<PostgresSettings, FieldProblem> {
        func problem(_ field: String, _ text: String) -> Result<PostgresSettings, FieldProblem> {
            .failure(FieldProblem(field: field, text))
        }
        var rest = Substring(url.trimmingCharacters(in: .whitespaces))
        guard let scheme = ["postgres://", "postgresql://"].first(where: { rest.lowercased().hasPrefix($0) }) else {
            return problem("scheme", "must start with postgres:// (\(urlExample))")
        }
        rest = rest.dropFirst(scheme.count)

        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") { query = rest[rest.index(after: q)...]; rest = rest[..<q] }
        // The password may hold a percent-encoded '/', never a bare one; the last '@' ends the
        // user information, so the host part starts after it.
        let at = rest.lastIndex(of: "@")
        let hostStart = at.map { rest.index(after: $0) } ?? rest.startIndex
        guard let slash = rest[hostStart...].firstIndex(of: "/") else {
            return problem("database", "names no database: end the URL with /DATABASE (\(urlExample))")
        }
        let authority = rest[hostStart..<slash]
        guard let database = String(rest[rest.index(after: slash)...]).removingPercentEncoding, !database.isEmpty, !database.contains("/") else {
            return problem("database", "names no database: end the URL with /DATABASE (\(urlExample))")
        }

        var user = "", password: String?
        if let at {
            let info = rest[rest.startIndex..<at]
            let colon = info.firstIndex(of: ":")
            guard let u = String(info[..<(colon ?? info.endIndex)]).removingPercentEncoding else {
                return problem("user", "has a bad percent escape in the user name")
            }
            user = u
            if let colon {
                guard let p = String(info[info.index(after: colon)...]).removingPercentEncoding else {
                    return problem("password", "has a bad percent escape in the password; encode '%' as %25")
                }
                password = p
            }
        }
        guard !user.isEmpty else { return problem("user", "names no user: write postgres://USER:PASSWORD@HOST/… (\(urlExample))") }

        var host: Substring, portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return problem("host", "has an IPv6 address without its closing ]") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return problem("host", "has text after the IPv6 address") }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return problem("host", "names no host: write …@HOST:PORT/DATABASE (\(urlExample))") }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                return problem("port", "has port '\(portText)'; give a number from 1 to 65535 (5432 is PostgreSQL's)")
            }
            port = p
        }

        var settings = PostgresSettings(host: String(host), port: port, user: user, password: password, database: database)
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard let value = parts.count == 2 ? String(parts[1]).removingPercentEncoding : nil else {
                return problem(name, "parameter '\(name)' has no value; write \(name)=VALUE")
            }
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    let known = TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                    return problem("sslmode", "sslmode=\(value) is not supported; use one of \(known) (require verifies the certificate chain, verify-full also the host name)")
                }
                settings.tls = mode
            case "sslrootcert":
                guard !value.isEmpty else { return problem("sslrootcert", "sslrootcert is empty; give the path of a PEM file of CA certificates") }
                settings.rootCertificatePath = value
            default:
                return problem(name, "parameter '\(name)' is not supported; the URL takes sslmode and sslrootcert")
            }
        }
        if settings.tls == .disable, settings.rootCertificatePath != nil {
            return problem("sslrootcert", "sslrootcert is given but sslmode=disable; remove one of them")
        }
        return .success(settings)
    }

    /// A schema name we can put in statements unquoted-safe: letters, digits and `_`, not
    /// starting with a digit, at most 63 bytes (PostgreSQL's identifier limit).
    public static func isValidSchemaName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        let letters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
        let rest = letters.union(CharacterSet(charactersIn: "0123456789"))
        return letters.contains(first) && name.unicodeScalars.allSatisfy { rest.contains($0) }
    }
}

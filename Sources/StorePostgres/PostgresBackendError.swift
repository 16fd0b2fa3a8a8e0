import Foundation
import NIOCore
import PostgresNIO
import Store

/// What the PostgreSQL backend throws. PostgresNIO's own `PSQLError` prints a generic text (so
/// it cannot leak data into logs); these carry the server's message and SQLSTATE instead.
public enum PostgresBackendError: Error, CustomStringConvertible, Sendable, StoreUnavailableError {
    /// Nothing was applied and a later try may succeed: the API answers 503 with Retry-After.
    public var isUnavailable: Bool {
        switch self {
        case .unavailable, .closed: true
        default: false
        }
    }

    /// The server cannot be reached or the connection was lost: the caller may answer 503 and
    /// try again later; the backend reconnects on its next use.
    case unavailable(String)
    /// The server refused a statement (constraint, syntax, serialization failure, …).
    case statement(sqlState: String, message: String, detail: String?, sql: String)
    /// A result column of a type the store does not read.
    case unsupportedColumn(name: String, type: String)
    /// Settings that cannot work (a CA file that does not load, a bad schema name).
    case configuration(String)
    /// The backend was shut down.
    case closed

    public var description: String {
        switch self {
        case .unavailable(let why): "PostgreSQL unavailable: \(why)"
        case let .statement(state, message, detail, sql):
            "PostgreSQL error \(state): \(message)\(detail.map { " (\($0))" } ?? "") in: \(sql.prefix(300))"
        case let .unsupportedColumn(name, type):
            "column \(name) has type \(type), which the store does not read; cast it in the query (e.g. ::text or ::double precision)"
        case .configuration(let why): "PostgreSQL settings: \(why)"
        case .closed: "the PostgreSQL backend has been shut down"
        }
    }

    /// The SQLSTATE of a server error, whether still a `PSQLError` or already converted.
    public static func sqlState(of error: any Error) -> String? {
        switch error {
        case let e as PostgresBackendError:
            if case .statement(let state, _, _, _) = e { return state }
            return nil
        case let e as PSQLError:
            return e.serverInfo?[.sqlState]
        default:
            return nil
        }
    }

    /// The error means the connection (not the statement) failed: the connection is thrown away.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        if case .unavailable = error as? PostgresBackendError { return true }
        if let e = error as? PSQLError {
            switch e.code {
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown,
                 .sslUnsupported, .failedToAddSSLHandler, .messageDecodingFailure, .unexpectedBackendMessage:
                return true
            case .server:
                // 08xxx connection exceptions; 57P01-57P03 shutdown / crash / not yet accepting.
                let state = e.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P")
            default:
                return false
            }
        }
        return error is ChannelError || error is IOError
    }

    /// A Swift error turned into this type, keeping the SQLSTATE and the server's words.
    static func from(_ error: any Error, sql: String) -> any Error {
        if error is PostgresBackendError { return error }
        if isConnectionFailure(error) { return PostgresBackendError.unavailable(describe(error)) }
        if let e = error as? PSQLError, let info = e.serverInfo {
            return PostgresBackendError.statement(sqlState: info[.sqlState] ?? "?????", message: info[.message] ?? "\(e.code)",
                                                  detail: info[.detail], sql: sql)
        }
        return error
    }

    /// A readable line for a low-level error (PSQLError's own description hides everything).
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                return "\(info[.sqlState] ?? "") \(info[.message] ?? "\(e.code)")".trimmingCharacters(in: .whitespaces)
            }
            if let underlying = e.underlying { return "\(e.code): \(underlying)" }
            return "\(e.code)"
        }
        return "\(error)"
    }
}

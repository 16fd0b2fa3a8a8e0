import Accounts
import Crypto
import Foundation
import Hummingbird
import MillwrightCore

/// API keys with roles. Only SHA-256 digests of the keys are kept; a presented key is
/// hashed and compared against every digest in constant time, so neither timing nor logs
/// reveal a key.
public struct APIKeyring: Sendable {
    struct Entry: Sendable { var name: String; var role: APIRole; var digest: [UInt8] }
    let entries: [Entry]

    public init(keys: [APIKeySettings]) {
        entries = keys.map { Entry(name: $0.name, role: $0.role, digest: Array(SHA256.hash(data: Data($0.key.utf8)))) }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public func identify(bearer: String) -> (name: String, role: APIRole)? {
        let digest = Array(SHA256.hash(data: Data(bearer.utf8)))
        var found: (String, APIRole)?
        for e in entries where Self.constantTimeEqual(e.digest, digest) { found = found ?? (e.name, e.role) }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// What a role may do.
public enum Permission: String, Sendable {
    case ingest, read, feedback, admin

    public func allowed(for role: APIRole) -> Bool {
        switch (self, role) {
        case (_, .admin): true
        case (.ingest, .ingest): true
        case (.read, .viewer), (.read, .operator): true
        case (.feedback, .operator): true
        default: false
        }
    }
}

public struct MillwrightContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: (name: String, role: APIRole)?
    /// Set when the caller is a named person logged in with a session token, not an API key.
    public var sessionUser: String?
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
    }
    /// Body size is enforced where bodies are read, with a problem document.
    public var maxUploadSize: Int { 8 << 20 }
}

/// Checks the Bearer key (or a named user's session token) of every request except the open endpoints.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = MillwrightContext
    let keyring: APIKeyring
    let accounts: Accounts
    static let open: Set<String> = ["/healthz", "/", "/audit", "/analytics", "/shadow", "/ui/board.js", "/ui/board.css", "/v1/login"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The incident page's shell, like the board's, holds no data: its script asks with the key.
        if Self.open.contains(request.uri.path) || request.uri.path.hasPrefix("/incidents/") { return try await next(request, context) }
        // Signed evidence links open without a key; the handler checks the signature.
        if request.uri.path.hasPrefix("/v1/evidence/"), request.uri.queryParameters.get("sig") != nil, request.headers[.authorization] == nil {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw Problem(.unauthorized, type: "unauthorized", detail: "send Authorization: Bearer <api key>")
        }
        let bearer = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        var context = context
        if bearer.hasPrefix(Accounts.tokenPrefix) {
            guard let user = try await accounts.resume(token: bearer) else {
                throw Problem(.unauthorized, type: "session-expired", detail: "the session has ended (logged out, idle too long, or the account was locked); log in again")
            }
            context.caller = (user.name, user.role.apiRole)
            context.sessionUser = user.name
            context.logger[metadataKey: "user"] = "\(user.name)"
            return try await next(request, context)
        }
        guard let caller = keyring.identify(bearer: bearer) else {
            throw Problem(.unauthorized, type: "unauthorized", detail: "the API key is not valid")
        }
        context.caller = caller
        context.logger[metadataKey: "api_key"] = "\(caller.name)"
        return try await next(request, context)
    }
}

extension MillwrightContext {
    func require(_ p: Permission) throws {
        guard let caller else { throw Problem(.unauthorized, type: "unauthorized", detail: "send Authorization: Bearer <api key>") }
        guard p.allowed(for: caller.role) else {
            throw Problem(.forbidden, type: "forbidden", detail: "key '\(caller.name)' has role \(caller.role.rawValue), which may not \(p.rawValue)")
        }
    }
}

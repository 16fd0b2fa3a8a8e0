import Accounts
import Foundation
import Hummingbird
import MillwrightCore
import NIOCore
import Store

/// Named users' sessions, electronic signatures on regulated decisions (21 CFR Part 11) and
/// the audit trail for inspectors.
extension APIServer {
    /// The signature a regulated action carries, checked now; a problem document when it is
    /// missing (with `compliance.part11`), wrong, or not the session's own.
    func sign(_ action: String, _ input: JSONValue?, _ ctx: MillwrightContext, needs permission: Permission) async throws -> SignatureIntent? {
        do {
            let request = try SignatureRequest(input?["signature"])
            return try await accounts.signature(for: action, request, sessionUser: ctx.sessionUser,
                                                allowed: { permission.allowed(for: $0.apiRole) })
        } catch let e as AccountsError {
            throw Self.problem(e, signing: true)
        }
    }

    static func problem(_ e: AccountsError, signing: Bool) -> Problem {
        switch e {
        case .signatureRequired: Problem(.forbidden, type: "signature-required", detail: e.description)
        case .badCredentials: Problem(.unauthorized, type: signing ? "signature-rejected" : "login-failed", detail: e.description)
        case .inactive: Problem(.forbidden, type: "account-inactive", detail: e.description)
        case .signerMismatch: Problem(.forbidden, type: "signer-mismatch", detail: e.description)
        case .signerNotAuthorized: Problem(.forbidden, type: "signer-not-authorized", detail: e.description)
        case .badSignature(let why):
            Problem(.unprocessableContent, type: "invalid-signature", detail: why, errors: [ProblemItem(index: nil, field: "signature", problem: why)])
        case .busy: Problem(.serviceUnavailable, type: "busy", detail: e.description)
        }
    }

    /// An empty body, or a JSON object (at most 64 KiB).
    func optionalJSONObject(_ request: Request, example: String) async throws -> JSONValue? {
        var req = request
        let body = try await req.collectBody(upTo: 64 << 10)
        guard body.readableBytes > 0 else { return nil }
        guard let v = try? JSONValue.parse(Data(body.readableBytesView)), v.objectValue != nil else {
            throw Problem(.badRequest, type: "invalid-json", detail: "body must be empty or a JSON object \(example)")
        }
        return v
    }

    struct LoginResponse: Encodable {
        var token: String
        var expiresAt: Date
        var user: String
        var fullName: String
        var role: String
        /// The session ends after this many seconds without a request.
        var idleTimeoutS: Int
    }

    func login(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        let example = "{\"user\": \"jdoe\", \"password\": \"…\", \"totp\": \"123456\"}"
        guard let input = try await optionalJSONObject(request, example: example),
              let user = input["user"]?.stringValue, let password = input["password"]?.stringValue,
              user.utf8.count <= 64, password.utf8.count <= 1024 else {
            throw Problem(.unprocessableContent, type: "invalid-login", detail: "send \(example); totp only when the user has a second factor")
        }
        if let t = input["totp"], t != .null, t.stringValue == nil {
            throw Problem(.unprocessableContent, type: "invalid-login", detail: "totp must be a string of 6 digits")
        }
        do {
            let s = try await accounts.login(user: user, password: password, totp: input["totp"]?.stringValue)
            return json(LoginResponse(token: s.token, expiresAt: s.expiresAt, user: s.user.name, fullName: s.user.fullName,
                                      role: s.user.role.rawValue, idleTimeoutS: Int(accounts.idle)))
        } catch let e as AccountsError {
            throw Self.problem(e, signing: false)
        }
    }

    func logout(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.read)
        guard ctx.sessionUser != nil, let header = request.headers[.authorization] else {
            throw Problem(.forbidden, type: "not-a-session", detail: "log out with the session token from POST /v1/login; an API key has no session to end")
        }
        _ = try await accounts.logout(token: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        return Response(status: .noContent)
    }

    /// The audit trail, oldest first, filtered by subject, kind and time (admin).
    func listAudit(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.admin)
        var query = try auditQuery(request)
        let limit = query.limit
        query.limit += 1
        let rows = try await gateway.store.auditRecords(query)
        return ListCursor.response(Self.auditPage(rows, limit: limit), list: .audit, request: request)
    }

    static func auditPage(_ rows: [AuditEntryView], limit: Int) -> Page<AuditEntryView> {
        Page.of(rows, limit: limit, key: { PageKey(time: Double($0.seq), ids: [""]) }, item: { $0 })
    }

    /// `subject`, `kind`, `since`, `until`, `cursor` and `limit` from the query, checked.
    func auditQuery(_ request: Request) throws -> AuditQuery {
        let q = request.uri.queryParameters
        func text(_ name: String) throws -> String? {
            guard let v = q.get(name), !v.isEmpty else { return nil }
            guard v.utf8.count <= 256 else { throw Problem(.badRequest, type: "invalid-query", detail: "\(name) is longer than 256 bytes") }
            return v
        }
        func time(_ name: String) throws -> Date? {
            guard let s = try text(name) else { return nil }
            guard let d = Timestamps.parseISO(s) else { throw Problem(.badRequest, type: "invalid-query", detail: "\(name) must be an RFC 3339 time, e.g. 2026-11-29T00:00:00Z") }
            return d
        }
        var query = AuditQuery(subject: try text("subject"), kind: try text("kind"), since: try time("since"), until: try time("until"), limit: try limit(q))
        // The cursor's number is the last record's sequence number (the decoder bounds it below
        // 1e16); its id part is unused, so every cursor of the grammar is a position.
        if let after = try ListCursor.after(request, list: .audit) {
            query.afterSeq = Int64(exactly: after.time.rounded(.down)) ?? 0
        }
        return query
    }
}

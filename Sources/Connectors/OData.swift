import Foundation
import MillwrightCore
import NIOHTTP1

/// OData V2 plumbing shared by the SAP connectors: the CSRF token + session cookie
/// handshake SAP Gateway requires for every modifying request, V2 JSON literals, and
/// error bodies turned into a message a person can act on.
public enum OData {
    /// `Edm.DateTime` in V2 JSON: `/Date(<ms since epoch>)/`, the date part at 00:00 in `timeZone`
    /// when `dateOnly` (SAP date fields carry display-format=Date and no time).
    public static func dateTime(_ d: Date, dateOnly: Bool, timeZone: TimeZone) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        guard dateOnly else { return "/Date(\(Int64((d.timeIntervalSince1970 * 1000).rounded())))/" }
        let c = cal.dateComponents([.year, .month, .day], from: d)
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let midnight = utc.date(from: DateComponents(year: c.year, month: c.month, day: c.day)) ?? d
        return "/Date(\(Int64(midnight.timeIntervalSince1970 * 1000)))/"
    }

    /// `Edm.Time` in V2 JSON: an ISO 8601 duration since midnight, `PT14H05M09S`.
    public static func time(_ d: Date, timeZone: TimeZone) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.hour, .minute, .second], from: d)
        return String(format: "PT%02dH%02dM%02dS", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// `/Date(<ms>)/` or `/Date(<ms>+0000)/` (V2 JSON) as a date; nil for anything else or a
    /// value outside ±10 000 years.
    public static func parseDate(_ s: String) -> Date? {
        guard s.hasPrefix("/Date("), s.hasSuffix(")/") else { return nil }
        let digits = s.dropFirst(6).prefix { $0.isNumber || $0 == "-" }
        guard digits.count <= 16, let ms = Int64(digits) else { return nil }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// An OData string literal for `$filter` / keys: single quotes doubled.
    public static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Percent-encodes a query value (OData system query options keep `$`, `'`, `(`, `)`).
    public static func query(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~'()$,/:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// `error.message.value` plus `innererror.errordetails[]` (code, message, target), deduplicated:
    /// "SAP error /IWBEP/CM_MGW_RT/020: Property 'X' is invalid (target: X)".
    public static func errorMessage(_ r: HTTPTransport.Response) -> String {
        guard let err = r.json?["error"] else {
            let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.isEmpty ? "no error body" : String(t.prefix(300))
        }
        let code = err["code"]?.stringValue
        let main = err["message"]?["value"]?.stringValue ?? err["message"]?.stringValue ?? "unspecified error"
        var parts = [(code.map { "SAP error \($0): " } ?? "SAP error: ") + main]
        for d in err["innererror"]?["errordetails"]?.arrayValue ?? [] {
            guard let m = d["message"]?.stringValue, m != main else { continue }
            let target = d["target"]?.stringValue.flatMap { $0.isEmpty ? nil : " (target: \($0))" } ?? ""
            let text = (d["code"]?.stringValue.map { "\($0): " } ?? "") + m + target
            if !parts.contains(text) { parts.append(text) }
        }
        return parts.joined(separator: "; ")
    }
}

/// Cookies set by the server, replayed on later requests (SAP binds the CSRF token to the
/// session cookie `SAP_SESSIONID_<SID>_<client>`; without it the token is rejected).
public final class CookieJar: @unchecked Sendable {
    private let lock = NSLock()
    private var cookies: [String: String] = [:]
    public init() {}

    public func store(from headers: HTTPHeaders) {
        let pairs = headers["Set-Cookie"].compactMap { line -> (String, String)? in
            guard let first = line.split(separator: ";", maxSplits: 1).first, let eq = first.firstIndex(of: "=") else { return nil }
            return (String(first[..<eq]).trimmingCharacters(in: .whitespaces), String(first[first.index(after: eq)...]).trimmingCharacters(in: .whitespaces))
        }
        guard !pairs.isEmpty else { return }
        lock.withLock { for (k, v) in pairs { cookies[k] = v } }
    }

    /// The `Cookie` header value, or nil when there are none.
    public var header: String? {
        lock.withLock { cookies.isEmpty ? nil : cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
    }

    public func clear() { lock.withLock { cookies.removeAll() } }
}

/// One CSRF token per OData service root, fetched with `X-CSRF-Token: Fetch` and reused
/// until the server answers `403` with `x-csrf-token: Required`.
public final class CSRFTokens: @unchecked Sendable {
    private let lock = NSLock()
    private var tokens: [String: String] = [:]
    public init() {}
    public func get(_ service: String) -> String? { lock.withLock { tokens[service] } }
    public func set(_ service: String, _ token: String?) { lock.withLock { tokens[service] = token } }
}

import Crypto
import Foundation
import MillwrightCore

/// Signs webhook bodies the same way the `webhook` CMMS connector does, so a plant verifies
/// both with one recipe: `X-Millwright-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
/// and `X-Millwright-Timestamp` (Unix seconds). The timestamp is inside the MAC, so a receiver
/// that rejects old timestamps also rejects replays.
public enum WebhookSigner {
    public static func signature(body: [UInt8], timestamp: String, secret: String) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data(timestamp.utf8))
        mac.update(data: Data(".".utf8))
        mac.update(data: body)
        return "v1=" + Hex.encode(mac.finalize())
    }

    static func headers(body: [UInt8], secret: String, timestamp: Date) -> [(String, String)] {
        let ts = String(Int(timestamp.timeIntervalSince1970))
        return [("X-Millwright-Timestamp", ts), ("X-Millwright-Signature", signature(body: body, timestamp: ts, secret: secret))]
    }

    /// Chat webhook URLs carry their credential in the path (Slack, Teams) or the query (Power
    /// Automate `sig=`), so reports and logs show scheme, host, port and the first path segment only.
    public static func redacted(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host, !host.isEmpty else {
            return "(not a URL: \(url.count) characters)"
        }
        let segments = c.path.split(separator: "/")
        var shown = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (c.port.map { ":\($0)" } ?? "")
        if let first = segments.first { shown += "/\(first)" }
        if segments.count > 1 || c.query != nil { shown += "/…" }
        return shown
    }
}

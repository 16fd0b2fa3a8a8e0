/// One server reply: a three-digit code and its text lines (`250-…` continuation lines joined).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]
    public init(code: Int, lines: [String]) { self.code = code; self.lines = lines }
    public var text: String { lines.joined(separator: " / ") }
    public var isPositive: Bool { (200..<400).contains(code) }
    public var description: String { "\(code) \(text)" }
}

/// Splits the byte stream into CRLF lines and groups `NNN-` continuation lines into one reply.
/// A value type fed bytes as they arrive, so it is tested without sockets.
public struct SMTPReplyParser: Sendable {
    private var buffer: [UInt8] = []
    private var pending: [String] = []
    private var pendingCode: Int?
    /// Guards against a server (or something that is not one) streaming an endless line.
    public var maxLineLength = 4096

    public init() {}

    /// Bytes received but not yet a complete reply (must be none when TLS starts).
    public var hasBufferedInput: Bool { !buffer.isEmpty || !pending.isEmpty }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(SMTPError) -> [SMTPReply] {
        buffer.append(contentsOf: bytes)
        var out: [SMTPReply] = []
        var start = 0
        while let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = nl
            if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }   // tolerate bare LF
            let line = String(decoding: buffer[start..<end], as: UTF8.self)
            start = nl + 1
            if let r = try take(line) { out.append(r) }
        }
        buffer.removeFirst(start)
        if buffer.count > maxLineLength { throw SMTPError.protocolViolation("reply line longer than \(maxLineLength) bytes") }
        return out
    }

    private mutating func take(_ line: String) throws(SMTPError) -> SMTPReply? {
        let u = Array(line.utf8)
        guard u.count >= 3, u[0..<3].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let code = Int(String(decoding: u[0..<3], as: UTF8.self)) else {
            throw SMTPError.protocolViolation("not an SMTP reply: \"\(line.prefix(80))\"")
        }
        if let p = pendingCode, p != code { throw SMTPError.protocolViolation("reply code changed within a multi-line reply (\(p) then \(code))") }
        let sep: UInt8? = u.count > 3 ? u[3] : nil
        let text = u.count > 4 ? String(decoding: u[4...], as: UTF8.self) : ""
        pending.append(text)
        if sep == UInt8(ascii: "-") { pendingCode = code; return nil }
        guard sep == nil || sep == UInt8(ascii: " ") else { throw SMTPError.protocolViolation("bad reply separator in \"\(line.prefix(80))\"") }
        defer { pending = []; pendingCode = nil }
        return SMTPReply(code: code, lines: pending)
    }
}

/// Errors carry the stage and, where the server answered, its reply code and text.
public enum SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a code we cannot continue from.
    case rejected(stage: String, code: Int, text: String)
    case authenticationFailed(code: Int, text: String)
    case startTLSNotOffered
    case startTLSRejected(code: Int, text: String)
    case noSupportedAuthMechanism(offered: [String])
    /// Credentials over an unencrypted connection are refused unless explicitly allowed.
    case insecureAuthRefused
    case allRecipientsRejected([RecipientRejection])
    case protocolViolation(String)
    case timeout(stage: String)
    case connectionClosed(stage: String)
    case connectFailed(String)
    case tls(String)

    public var description: String {
        switch self {
        case .rejected(let s, let c, let t): return "SMTP \(s) rejected: \(c) \(t)"
        case .authenticationFailed(let c, let t): return "SMTP authentication failed: \(c) \(t)"
        case .startTLSNotOffered: return "SMTP server does not offer STARTTLS, which is required"
        case .startTLSRejected(let c, let t): return "SMTP STARTTLS rejected: \(c) \(t)"
        case .noSupportedAuthMechanism(let o): return "SMTP server offers no supported AUTH mechanism (offered: \(o.isEmpty ? "none" : o.joined(separator: " ")); we speak PLAIN, LOGIN)"
        case .insecureAuthRefused: return "SMTP credentials would be sent unencrypted; enable STARTTLS/TLS or allow insecure auth explicitly"
        case .allRecipientsRejected(let r): return "SMTP: every recipient was rejected: " + r.map { "\($0.address) (\($0.code) \($0.text))" }.joined(separator: ", ")
        case .protocolViolation(let m): return "SMTP protocol violation: \(m)"
        case .timeout(let s): return "SMTP timeout waiting for the reply to \(s)"
        case .connectionClosed(let s): return "SMTP connection closed by the server during \(s)"
        case .connectFailed(let m): return "SMTP connect failed: \(m)"
        case .tls(let m): return "SMTP TLS failed: \(m)"
        }
    }
}

public struct RecipientRejection: Sendable, Equatable {
    public var address: String
    public var code: Int
    public var text: String
}

/// Credentials for AUTH.
public struct SMTPCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    public init(username: String, password: String) { self.username = username; self.password = password }
}

public enum SMTPAuthMechanism: String, Sendable, CaseIterable { case plain = "PLAIN", login = "LOGIN" }

/// One message's envelope and its already-rendered content (`EmailMessage.render()`).
public struct SMTPEnvelope: Sendable, Equatable {
    public var from: String
    public var recipients: [String]
    /// RFC 5322 message, CRLF line endings, not yet dot-stuffed.
    public var data: [UInt8]
    public init(from: String, recipients: [String], data: [UInt8]) { self.from = from; self.recipients = recipients; self.data = data }
}

public struct SMTPDeliveryReport: Sendable, Equatable {
    public var accepted: [String]
    public var rejected: [RecipientRejection]
    /// The server's final reply to the message (usually with its queue id).
    public var serverReply: String
    public var usedTLS: Bool
    public var authMechanism: SMTPAuthMechanism?
}

/// The SMTP client conversation (RFC 5321) as a value: feed it server replies, it says what to
/// send next. The socket code only moves bytes and installs TLS when told to.
public struct SMTPConversation: Sendable {
    public enum Action: Sendable, Equatable {
        /// Write these bytes (a command line with CRLF, or the dot-stuffed message).
        case send([UInt8])
        /// Put TLS in front of the connection now, then call `tlsEstablished()`.
        case startTLS
        /// Delivered; close the connection.
        case finished(SMTPDeliveryReport)
        /// Stop; try to QUIT politely if `quit` is set, then close.
        case fail(SMTPError, quit: Bool)
    }

    enum Stage: String, Sendable {
        case greeting, ehlo, helo, startTLS = "STARTTLS", authPlain = "AUTH PLAIN", authLogin = "AUTH LOGIN",
             authLoginUser = "AUTH LOGIN username", authLoginPassword = "AUTH LOGIN password",
             mailFrom = "MAIL FROM", rcptTo = "RCPT TO", data = "DATA", message = "end of data", quit = "QUIT", done
    }

    public let clientName: String
    public let requireStartTLS: Bool
    public let credentials: SMTPCredentials?
    public let allowInsecureAuth: Bool
    public let envelope: SMTPEnvelope

    private(set) var stage: Stage = .greeting
    public private(set) var secure: Bool
    public private(set) var capabilities: Set<String> = []
    public private(set) var authMechanisms: [String] = []
    private var rcptIndex = 0
    private var accepted: [String] = []
    private var rejected: [RecipientRejection] = []
    private var usedAuth: SMTPAuthMechanism?
    private var finalReply = ""

    /// `implicitTLS`: the connection is already TLS (port 465), so STARTTLS is skipped.
    public init(clientName: String, envelope: SMTPEnvelope, requireStartTLS: Bool, implicitTLS: Bool = false,
                credentials: SMTPCredentials? = nil, allowInsecureAuth: Bool = false) {
        self.clientName = clientName; self.envelope = envelope; self.requireStartTLS = requireStartTLS
        self.secure = implicitTLS; self.credentials = credentials; self.allowInsecureAuth = allowInsecureAuth
    }

    /// What we are waiting for, for timeout and error messages.
    public var waitingFor: String { stage.rawValue }

    public mutating func receive(_ reply: SMTPReply) -> [Action] {
        switch stage {
        case .greeting:
            guard reply.code == 220 else { return fail(.rejected(stage: "greeting", code: reply.code, text: reply.text), quit: reply.code != 554) }
            return ehlo()
        case .ehlo:
            guard reply.code == 250 else {
                // Ancient servers without ESMTP: HELO works only if we need nothing extended.
                if (500...502).contains(reply.code), !requireStartTLS, credentials == nil {
                    stage = .helo
                    return [command("HELO \(clientName)")]
                }
                return fail(.rejected(stage: "EHLO", code: reply.code, text: reply.text), quit: true)
            }
            parseCapabilities(reply)
            if requireStartTLS && !secure {
                guard capabilities.contains("STARTTLS") else { return fail(.startTLSNotOffered, quit: true) }
                stage = .startTLS
                return [command("STARTTLS")]
            }
            return authenticateOrMail()
        case .helo:
            guard reply.code == 250 else { return fail(.rejected(stage: "HELO", code: reply.code, text: reply.text), quit: true) }
            return mailFrom()
        case .startTLS:
            guard reply.code == 220 else { return fail(.startTLSRejected(code: reply.code, text: reply.text), quit: true) }
            return [.startTLS]
        case .authPlain, .authLoginPassword:
            guard reply.code == 235 else { return fail(.authenticationFailed(code: reply.code, text: reply.text), quit: true) }
            return mailFrom()
        case .authLogin:
            guard reply.code == 334, let c = credentials else { return fail(.authenticationFailed(code: reply.code, text: reply.text), quit: true) }
            stage = .authLoginUser
            return [command(Base64.encode(Array(c.username.utf8)))]
        case .authLoginUser:
            guard reply.code == 334, let c = credentials else { return fail(.authenticationFailed(code: reply.code, text: reply.text), quit: true) }
            stage = .authLoginPassword
            return [command(Base64.encode(Array(c.password.utf8)))]
        case .mailFrom:
            guard reply.code == 250 else { return fail(.rejected(stage: "MAIL FROM", code: reply.code, text: reply.text), quit: true) }
            return rcptTo()
        case .rcptTo:
            let addr = envelope.recipients[rcptIndex]
            if reply.code == 250 || reply.code == 251 { accepted.append(addr) }
            else { rejected.append(RecipientRejection(address: addr, code: reply.code, text: reply.text)) }
            rcptIndex += 1
            return rcptTo()
        case .data:
            guard reply.code == 354 else { return fail(.rejected(stage: "DATA", code: reply.code, text: reply.text), quit: true) }
            stage = .message
            return [.send(SMTPConversation.dotStuff(envelope.data))]
        case .message:
            guard reply.code == 250 else { return fail(.rejected(stage: "message", code: reply.code, text: reply.text), quit: true) }
            finalReply = reply.text
            stage = .quit
            return [command("QUIT")]
        case .quit:
            // The message is accepted; whatever QUIT gets does not change that.
            stage = .done
            return [.finished(report)]
        case .done:
            return []
        }
    }

    /// The TLS handshake is under way/complete; RFC 3207 says forget everything and EHLO again.
    public mutating func tlsEstablished() -> [Action] {
        secure = true
        capabilities = []; authMechanisms = []
        return ehlo()
    }

    /// The server closed the connection. After the message was accepted that is fine.
    public mutating func connectionClosed() -> [Action] {
        if stage == .quit || stage == .done { stage = .done; return [.finished(report)] }
        return fail(.connectionClosed(stage: stage.rawValue), quit: false)
    }

    /// The deadline for the current reply passed.
    public mutating func timedOut() -> [Action] {
        if stage == .quit { stage = .done; return [.finished(report)] }
        return fail(.timeout(stage: stage.rawValue), quit: false)
    }

    private var report: SMTPDeliveryReport {
        SMTPDeliveryReport(accepted: accepted, rejected: rejected, serverReply: finalReply, usedTLS: secure, authMechanism: usedAuth)
    }

    private mutating func ehlo() -> [Action] {
        stage = .ehlo
        return [command("EHLO \(clientName)")]
    }

    private mutating func parseCapabilities(_ reply: SMTPReply) {
        // First line is the server's greeting name; the rest are keywords with parameters.
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ").map { $0.uppercased() }
            guard let kw = words.first else { continue }
            capabilities.insert(kw)
            if kw == "AUTH" { authMechanisms += words.dropFirst() }
            else if kw.hasPrefix("AUTH=") { authMechanisms += [String(kw.dropFirst(5))] + words.dropFirst() }   // old Outlook form
        }
    }

    private mutating func authenticateOrMail() -> [Action] {
        guard let c = credentials else { return mailFrom() }
        guard secure || allowInsecureAuth else { return fail(.insecureAuthRefused, quit: true) }
        // PLAIN is one round trip; LOGIN for servers that offer only that.
        if authMechanisms.contains("PLAIN") {
            usedAuth = .plain
            stage = .authPlain
            let token = Base64.encode([0] + Array(c.username.utf8) + [0] + Array(c.password.utf8))
            return [command("AUTH PLAIN \(token)")]
        }
        if authMechanisms.contains("LOGIN") {
            usedAuth = .login
            stage = .authLogin
            return [command("AUTH LOGIN")]
        }
        return fail(.noSupportedAuthMechanism(offered: authMechanisms), quit: true)
    }

    private mutating func mailFrom() -> [Action] {
        stage = .mailFrom
        // SMTPUTF8 only when the server supports it and an address needs it.
        let needsUTF8 = ([envelope.from] + envelope.recipients).contains { $0.utf8.contains { $0 >= 0x80 } }
        var params = ""
        if capabilities.contains("8BITMIME") { params += " BODY=8BITMIME" }
        if needsUTF8 && capabilities.contains("SMTPUTF8") { params += " SMTPUTF8" }
        return [command("MAIL FROM:<\(envelope.from)>\(params)")]
    }

    private mutating func rcptTo() -> [Action] {
        if rcptIndex < envelope.recipients.count {
            stage = .rcptTo
            return [command("RCPT TO:<\(envelope.recipients[rcptIndex])>")]
        }
        guard !accepted.isEmpty else { return fail(.allRecipientsRejected(rejected), quit: true) }
        stage = .data
        return [command("DATA")]
    }

    private mutating func fail(_ e: SMTPError, quit: Bool) -> [Action] {
        stage = .done
        return [.fail(e, quit: quit)]
    }

    private func command(_ s: String) -> Action {
        // A CR or LF inside an argument would inject a second command.
        let clean = String(String.UnicodeScalarView(s.unicodeScalars.filter { $0 != "\r" && $0 != "\n" }))
        return .send(Array((clean + "\r\n").utf8))
    }

    /// Normalises line endings to CRLF, doubles a leading "." on every line (RFC 5321 §4.5.2) and
    /// appends the terminating CRLF.CRLF.
    public static func dotStuff(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + data.count / 50 + 5)
        var atLineStart = true
        var i = 0
        while i < data.count {
            let b = data[i]
            if b == 0x0D || b == 0x0A {
                out += [0x0D, 0x0A]
                // CRLF, bare CR and bare LF each end exactly one line.
                if b == 0x0D, i + 1 < data.count, data[i + 1] == 0x0A { i += 1 }
                atLineStart = true
            } else {
                if atLineStart && b == UInt8(ascii: ".") { out.append(b) }
                out.append(b)
                atLineStart = false
            }
            i += 1
        }
        if !atLineStart { out += [0x0D, 0x0A] }
        out += Array(".\r\n".utf8)
        return out
    }
}

/// Standard Base64 (no line breaks), without Foundation, so the module stays lean.
enum Base64 {
    static let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

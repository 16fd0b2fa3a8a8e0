import Foundation

/// `compliance:` — 21 CFR Part 11 / EU GMP Annex 11 controls. Off by default: a plant that
/// is not regulated keeps API keys and free-text verdicts.
public struct ComplianceSettings: Sendable, Equatable {
    /// Regulated decisions made through the API require an electronic signature.
    public var part11 = false
    /// A login session ends after this long without a request.
    public var sessionIdle: Duration = .seconds(15 * 60)
    /// Who is told when a user is locked out: recipient names from `notifications`, as `mqtt.alert`.
    public var securityContacts: [String] = []
    /// A wall-clock step larger than this between two readings is recorded in the audit trail.
    public var maxClockStep: Duration = .seconds(2)
    public init() {}
}

/// What a signer declares by signing (§11.50(a)(3)).
public enum SignatureMeaning: String, Sendable, CaseIterable, Codable {
    case reviewed, approved, rejected, acknowledged, responsible
}

/// The roles a named person may hold; `ingest` is for machines and stays with API keys.
public enum UserRole: String, Sendable, CaseIterable, Codable {
    case viewer, `operator`, admin
    public var apiRole: APIRole {
        switch self {
        case .viewer: .viewer
        case .operator: .operator
        case .admin: .admin
        }
    }
}

/// Names and passwords a person may be given (§11.300(a)/(b)).
public enum AccountRules {
    /// bcrypt reads at most 72 bytes: a longer password would be silently truncated.
    public static let maxPasswordBytes = 72
    public static let minPasswordLength = 12

    /// A user name: what appears on every signature, so printable and short.
    public static func nameProblem(_ name: String) -> String? {
        guard (2...64).contains(name.utf8.count) else { return "give 2 to 64 characters" }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) }) else {
            return "use letters, digits, '.', '_', '-' or '@'"
        }
        return nil
    }

    public static func fullNameProblem(_ fullName: String) -> String? {
        let trimmed = fullName.trimmingCharacters(in: .whitespaces)
        guard (2...128).contains(trimmed.utf8.count) else { return "give the person's printed name, 2 to 128 bytes" }
        guard !trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else { return "must not contain control characters" }
        return nil
    }

    /// Every rule the password breaks, in words a person can act on; empty when it is acceptable.
    public static func passwordProblems(_ password: String, user: String) -> [String] {
        var problems: [String] = []
        if password.count < minPasswordLength { problems.append("at least \(minPasswordLength) characters") }
        if password.utf8.count > maxPasswordBytes { problems.append("at most \(maxPasswordBytes) bytes") }
        let classes = [
            password.contains(where: \.isLowercase), password.contains(where: \.isUppercase),
            password.contains(where: \.isNumber), password.contains { !$0.isLetter && !$0.isNumber && !$0.isWhitespace },
        ].filter { $0 }.count
        if classes < 3 { problems.append("three of: lower case, upper case, digits, symbols") }
        if !user.isEmpty, password.lowercased().contains(user.lowercased()) { problems.append("must not contain the user name") }
        return problems
    }
}

/// Three wrong passwords within 15 minutes lock the account (§11.300(d)).
public struct LockoutPolicy: Sendable, Equatable {
    public var attempts = 3
    public var window: TimeInterval = 15 * 60
    public init() {}

    /// Whether these failures (including the one just made) lock the account.
    public func locks(failures: [Date], now: Date) -> Bool {
        failures.filter { now.timeIntervalSince($0) < window }.count >= attempts
    }
}

/// An electronic signature as recorded (§11.50, §11.70): who, their printed name, when in UTC
/// and in the plant's time, what it means, which action it signs, and a digest binding it to
/// exactly that audit record, so it cannot be removed or moved onto another one unnoticed.
public struct SignatureManifest: Sendable, Equatable, Codable {
    public var user: String
    public var fullName: String
    public var meaning: SignatureMeaning
    /// The audit kind of the signed record (`feedback`, `delivery.redriven`, …).
    public var action: String
    public var signedAt: Date
    /// The same instant in the plant's time zone, as printed for a reader at the plant.
    public var signedAtLocal: String
    /// SHA-256 of the signed audit record's content (`SignatureManifest.digest`).
    public var signs: String

    public static let auditKind = "signature"

    enum CodingKeys: String, CodingKey { case user, fullName, meaning, action, signedAt, signedAtLocal, signs, printed }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(user, forKey: .user)
        try c.encode(fullName, forKey: .fullName)
        try c.encode(meaning, forKey: .meaning)
        try c.encode(action, forKey: .action)
        try c.encode(signedAt, forKey: .signedAt)
        try c.encode(signedAtLocal, forKey: .signedAtLocal)
        try c.encode(signs, forKey: .signs)
        try c.encode(printed, forKey: .printed)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decode(String.self, forKey: .user)
        fullName = try c.decode(String.self, forKey: .fullName)
        meaning = try c.decode(SignatureMeaning.self, forKey: .meaning)
        action = try c.decode(String.self, forKey: .action)
        signedAt = try c.decode(Date.self, forKey: .signedAt)
        signedAtLocal = try c.decode(String.self, forKey: .signedAtLocal)
        signs = try c.decode(String.self, forKey: .signs)
    }

    public init(user: String, fullName: String, meaning: SignatureMeaning, action: String, signedAt: Date, timeZone: TimeZone, signs: String) {
        self.user = user
        self.fullName = fullName
        self.meaning = meaning
        self.action = action
        self.signedAt = signedAt
        self.signedAtLocal = Self.localTime(signedAt, in: timeZone)
        self.signs = signs
    }

    /// What a signature binds to: the signed record's time, kind, subject and data, but not its
    /// place in the chain (that is fixed only when the transaction commits).
    public static func digest(at: Date, kind: String, subject: String, data: [String: JSONValue]) -> String {
        Hashing.sha256Hex(AuditRecord.canonicalJSON(seq: 0, at: at, kind: kind, subject: subject, data: data))
    }

    public var auditData: [String: JSONValue] {
        [
            "user": .string(user), "full_name": .string(fullName), "meaning": .string(meaning.rawValue),
            "action": .string(action), "signed_at": .string(Timestamps.format(signedAt)),
            "signed_at_local": .string(signedAtLocal), "signs": .string(signs),
        ]
    }

    public init?(auditData d: [String: JSONValue], at: Date) {
        guard let user = d["user"]?.stringValue, let fullName = d["full_name"]?.stringValue,
              let meaning = d["meaning"]?.stringValue.flatMap(SignatureMeaning.init(rawValue:)),
              let action = d["action"]?.stringValue, let local = d["signed_at_local"]?.stringValue,
              let signs = d["signs"]?.stringValue else { return nil }
        self.user = user; self.fullName = fullName; self.meaning = meaning; self.action = action
        self.signedAt = d["signed_at"]?.stringValue.flatMap(Timestamps.parseISO) ?? at
        self.signedAtLocal = local; self.signs = signs
    }

    /// "Jane Doe (jdoe), approved, 2026-11-29 14:03:12 UTC / 2026-11-29 15:03:12 +01:00 Europe/Berlin": the
    /// manifestation printed in the incident page and the CMMS note (§11.50(b)).
    public var printed: String {
        "\(fullName) (\(user)), \(meaning.rawValue), \(Self.utcTime(signedAt)) UTC / \(signedAtLocal)"
    }

    static func utcTime(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: d)
    }

    static func localTime(_ d: Date, in tz: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = tz
        // A numeric offset and the zone's name: unambiguous across daylight-saving changes.
        f.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
        return f.string(from: d) + " " + tz.identifier
    }

    /// Checks a signature record against the record just before it in the chain, which is the
    /// one it was written with. A reason when they do not belong together.
    public static func bindingProblem(signature s: AuditRecord, signed prev: AuditRecord?) -> String? {
        guard let m = SignatureManifest(auditData: s.data, at: s.at) else { return "the signature record is incomplete" }
        guard let prev else { return "a signature with no record before it" }
        guard prev.subject == s.subject, prev.kind == m.action else {
            return "signs \(m.action) of \(s.subject), but the record before it is \(prev.kind) of \(prev.subject): it was moved"
        }
        guard digest(at: prev.at, kind: prev.kind, subject: prev.subject, data: prev.data) == m.signs else {
            return "does not match the content of record \(prev.seq), which it signs"
        }
        return nil
    }
}

/// A wall-clock step between two readings of the clock taken a known (monotonic) time apart.
public struct ClockStepDetector: Sendable {
    public var maxStep: TimeInterval
    private var last: (wall: Date, monotonic: TimeInterval)?

    public init(maxStep: TimeInterval) { self.maxStep = maxStep }

    /// The step in seconds (positive: the clock jumped forward) when it exceeds `maxStep`.
    public mutating func observe(wall: Date, monotonic: TimeInterval) -> TimeInterval? {
        defer { last = (wall, monotonic) }
        guard let last else { return nil }
        let step = wall.timeIntervalSince(last.wall) - (monotonic - last.monotonic)
        return abs(step) > maxStep ? step : nil
    }
}

/// The note the CMMS gets when someone gives a verdict on its work order: the verdict, who,
/// and with Part 11 the signature's manifestation (§11.50(b): shown wherever the record is).
public enum VerdictNote {
    public static func text(falsePositive: Bool, by: String?, note: String?, signature: SignatureManifest?) -> String {
        var t = "Millwright verdict: " + (falsePositive ? "false positive" : "confirmed defect")
        if let signature { t += ". Signed: " + signature.printed } else if let by, !by.isEmpty { t += " (by \(by))" }
        if let note, !note.isEmpty { t += ". Note: " + String(note.prefix(1000)) }
        return t + "."
    }
}

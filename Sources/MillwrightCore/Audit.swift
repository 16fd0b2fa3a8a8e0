import Crypto
import Foundation

/// One record of the append-only audit trail. Each record's hash covers the previous
/// record's hash and this record's canonical JSON, so editing, deleting or reordering
/// any record breaks every hash after it. Under an audit key the hash is an HMAC
/// (`AuditSeal`), so only the key holder can make a rewritten chain consistent again.
public struct AuditRecord: Sendable, Equatable, Codable {
    public var seq: Int64
    public var at: Date
    /// `detection.decided`, `incident.opened`, `delivery.attempt`, `feedback`, …
    public var kind: String
    /// The id the record is about (detection, incident or work order).
    public var subject: String
    public var data: [String: JSONValue]
    public var prevHash: String
    public var hash: String

    public init(seq: Int64, at: Date, kind: String, subject: String, data: [String: JSONValue], prevHash: String, seal: AuditSeal = .sha256) {
        self.init(seq: seq, at: at, kind: kind, subject: subject, data: data, prevHash: prevHash, hash: "")
        self.hash = computeHash(seal)
    }

    /// A record as stored, hash included, for verification.
    public init(seq: Int64, at: Date, kind: String, subject: String, data: [String: JSONValue], prevHash: String, hash: String) {
        self.seq = seq; self.at = at; self.kind = kind; self.subject = subject; self.data = data
        self.prevHash = prevHash
        self.hash = hash
    }

    public static let genesis = String(repeating: "0", count: 64)

    public func canonicalJSON() -> Data {
        Self.canonicalJSON(seq: seq, at: at, kind: kind, subject: subject, data: data)
    }

    /// Sorted keys, no whitespace, timestamps to the millisecond as stored. Hand-written
    /// because it runs for every record (JSONEncoder was a third of the ingest CPU).
    public static func canonicalJSON(seq: Int64, at: Date, kind: String, subject: String, data: [String: JSONValue]) -> Data {
        canonicalParts(at: at, kind: kind, subject: subject, data: data).json(seq: seq)
    }

    /// The canonical JSON on either side of `seq`: a writer prepares it before it knows its
    /// place in the chain, so only the number is added while the chain is locked.
    public struct CanonicalParts: Sendable {
        public var head: String
        public var tail: String
        public func json(seq: Int64) -> Data { Data((head + String(seq) + tail).utf8) }
    }

    public static func canonicalParts(at: Date, kind: String, subject: String, data: [String: JSONValue]) -> CanonicalParts {
        var dataJSON = ""
        CanonicalJSON.write(.object(data), into: &dataJSON)
        return canonicalParts(atText: Timestamps.format(at), kind: kind, subject: subject, canonicalData: dataJSON)
    }

    /// The same, from the time as `Timestamps.format` wrote it and `data` already written by
    /// `CanonicalJSON` (a writer that stores that text too writes it once; the records of one
    /// transaction mostly share their time).
    public static func canonicalParts(atText: String, kind: String, subject: String, canonicalData: String) -> CanonicalParts {
        var head = "{\"at\":"
        CanonicalJSON.write(.string(atText), into: &head)
        head += ",\"data\":"
        head += canonicalData
        head += ",\"kind\":"
        CanonicalJSON.write(.string(kind), into: &head)
        head += ",\"seq\":"
        var tail = ",\"subject\":"
        CanonicalJSON.write(.string(subject), into: &tail)
        tail += "}"
        return CanonicalParts(head: head, tail: tail)
    }

    public func computeHash(_ seal: AuditSeal = .sha256) -> String {
        seal.hash(prev: prevHash, canonical: canonicalJSON())
    }
}

extension JSONValue {
    public init(_ s: String?) { self = s.map { .string($0) } ?? .null }
    public init(_ n: Double) { self = .number(n) }
    public init(_ n: Int) { self = .number(Double(n)) }

    /// Encodes any Encodable value into a JSONValue tree (for audit data).
    public static func from<T: Encodable>(_ value: T) -> JSONValue {
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .custom { d, e in var c = e.singleValueContainer(); try c.encode(Timestamps.format(d)) }
        guard let data = try? enc.encode(value), let v = try? JSONValue.parse(data) else { return .null }
        return v
    }
}

public enum Hashing {
    public static func sha256Hex(_ data: Data) -> String {
        Hex.encode(SHA256.hash(data: data))
    }
}

/// Deterministic JSON text for hashing: object keys sorted by their UTF-8 bytes, integers
/// without a fraction, other numbers in Swift's shortest round-trip form.
public enum CanonicalJSON {
    public static func write(_ v: JSONValue, into out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): writeNumber(n, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.enumerated() { if i > 0 { out += "," }; write(e, into: &out) }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out += "," }
                writeString(k, into: &out)
                out += ":"
                write(o[k]!, into: &out)
            }
            out += "}"
        }
    }

    public static func writeNumber(_ n: Double, into out: inout String) {
        if n.isFinite, n.rounded() == n, abs(n) < 1e15 { out += String(Int64(n)) } else if n.isFinite { out += "\(n)" } else { out += "null" }
    }

    public static func writeString(_ s: String, into out: inout String) {
        out += "\""
        // Everything that needs escaping is ASCII, so a byte scan finds it; most strings have
        // none and are copied whole.
        if s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
                default: out.unicodeScalars.append(u)
                }
            }
        } else {
            out += s
        }
        out += "\""
    }
}

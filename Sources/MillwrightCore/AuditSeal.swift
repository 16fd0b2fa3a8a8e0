import Crypto
import Foundation

/// The secret that seals the audit trail (`audit.key_env`). It prints as a placeholder, so
/// interpolating it into a log line or an error never shows the key.
public struct AuditKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    // Bytes rather than a SymmetricKey, which is not Sendable in this swift-crypto.
    private let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// Shorter secrets are refused: an HMAC is only as strong as the key behind it.
    public static let minimumBytes = 16

    public init?(secret: String) {
        guard secret.utf8.count >= Self.minimumBytes else { return nil }
        bytes = Array(secret.utf8)
    }

    public var description: String { "<audit key>" }
    public var debugDescription: String { description }

    /// An HMAC-SHA256 under this key to feed piece by piece (exports are streamed).
    public func newMAC() -> HMAC<SHA256> { HMAC<SHA256>(key: key) }

    func mac(_ parts: [Data]) -> HashedAuthenticationCode<SHA256> {
        var h = HMAC<SHA256>(key: key)
        for p in parts { h.update(data: p) }
        return h.finalize()
    }
}

/// How a record's hash is made. Anyone who can write the database can recompute a plain
/// SHA-256 chain after an edit; an HMAC-SHA256 chain needs the key to do the same.
public enum AuditSeal: Sendable {
    case sha256
    case hmac(AuditKey)

    public init(key: AuditKey?) { self = key.map(AuditSeal.hmac) ?? .sha256 }

    /// Over the previous record's hash, a newline and the record's canonical JSON.
    public func hash(prev: String, canonical: Data) -> String {
        let parts = [Data(prev.utf8), Data("\n".utf8), canonical]
        switch self {
        case .sha256:
            var h = SHA256()
            for p in parts { h.update(data: p) }
            return Hex.encode(h.finalize())
        case .hmac(let key):
            return Hex.encode(key.mac(parts))
        }
    }
}

/// Lower-case hexadecimal, for digests and MACs.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0x0f)]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ s: String) -> Data? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out = Data(capacity: u.count / 2)
        for i in stride(from: 0, to: u.count, by: 2) {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
}

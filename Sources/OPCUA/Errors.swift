/// An OPC UA status code (Part 4 §7.39, Part 6 §5.2.2.11): severity in the top two bits, the
/// code in bits 16–29, info bits below. The named constants are generated in `StatusCodes.swift`.
public struct StatusCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public var isGood: Bool { rawValue & 0xC000_0000 == 0 }
    public var isBad: Bool { rawValue & 0x8000_0000 != 0 }

    /// The symbolic name, looked up without the info bits.
    public var description: String {
        let name = StatusCode.symbolicNames[rawValue & 0xFFFF_0000] ?? "StatusCode"
        let hex = String(rawValue, radix: 16, uppercase: true)
        return "\(name) (0x\(String(repeating: "0", count: 8 - hex.count))\(hex))"
    }
}

/// Input that cannot be decoded. `offset` counts bytes from the start of what the reader was given.
public enum OPCUADecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes remain than `what` needs.
    case truncated(what: String, offset: Int, needed: Int, remaining: Int)
    /// A length or count field is larger than the configured limit.
    case limitExceeded(what: String, offset: Int, length: Int, limit: Int)
    /// A length field is negative other than -1 (null), or claims more bytes than remain.
    case invalidLength(what: String, offset: Int, length: Int64)
    /// Variants, DataValues or DiagnosticInfos nest deeper than the configured limit.
    case nestingTooDeep(what: String, offset: Int, limit: Int)
    /// A value outside its domain: an unknown encoding byte, reserved bits, invalid UTF-8, …
    case invalidValue(what: String, offset: Int, reason: String)

    /// What a server answers with (Part 4 §7.39): exceeded limits are not malformed input.
    public var statusCode: StatusCode {
        switch self {
        case .limitExceeded, .nestingTooDeep: return .badEncodingLimitsExceeded
        case .truncated, .invalidLength, .invalidValue: return .badDecodingError
        }
    }

    public var description: String {
        switch self {
        case let .truncated(what, offset, needed, remaining):
            return "\(what) at byte \(offset): needs \(needed) bytes, \(remaining) remain"
        case let .limitExceeded(what, offset, length, limit):
            return "\(what) at byte \(offset): length \(length) exceeds the limit \(limit)"
        case let .invalidLength(what, offset, length):
            return "\(what) at byte \(offset): invalid length \(length)"
        case let .nestingTooDeep(what, offset, limit):
            return "\(what) at byte \(offset): nested deeper than \(limit)"
        case let .invalidValue(what, offset, reason):
            return "\(what) at byte \(offset): \(reason)"
        }
    }
}

/// A value that cannot be put on the wire as it is (an array whose elements do not match its
/// type, a length that does not fit in an Int32, …).
public struct OPCUAEncodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "OPC UA encode error: \(message)" }
}

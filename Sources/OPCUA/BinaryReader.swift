import NIOCore

/// Bounds applied while decoding, so that a length field can never make us allocate or recurse
/// without limit. Part 6 §5.2.2: every stack enforces its own.
public struct DecodingLimits: Hashable, Sendable {
    /// Bytes in one String, ByteString or XmlElement.
    public var maxStringLength: Int
    /// Elements in one array (also the product of a matrix's dimensions).
    public var maxArrayLength: Int
    /// Variants in Variants, DataValues in Variants, DiagnosticInfos in DiagnosticInfos.
    public var maxNestingDepth: Int

    public init(maxStringLength: Int = 1 << 20, maxArrayLength: Int = 1 << 16, maxNestingDepth: Int = 32) {
        self.maxStringLength = maxStringLength
        self.maxArrayLength = maxArrayLength
        self.maxNestingDepth = maxNestingDepth
    }
}

/// Reads OPC UA binary encoded values (Part 6 §5.2, little-endian) from a buffer. Every read checks
/// the bytes remaining and the limits first and throws ``OPCUADecodeError``; nothing traps.
public struct BinaryReader {
    private var buffer: ByteBuffer
    private let startIndex: Int
    public let limits: DecodingLimits
    private var depth = 0

    public init(_ buffer: ByteBuffer, limits: DecodingLimits = DecodingLimits()) {
        self.buffer = buffer
        self.startIndex = buffer.readerIndex
        self.limits = limits
    }

    /// Bytes consumed so far: the offset reported in errors.
    public var offset: Int { buffer.readerIndex - startIndex }
    public var remaining: Int { buffer.readableBytes }

    /// Throws unless everything was consumed; a message with trailing bytes is malformed.
    public func expectEnd(_ what: String) throws {
        guard remaining == 0 else {
            throw OPCUADecodeError.invalidValue(what: what, offset: offset, reason: "\(remaining) trailing bytes")
        }
    }

    public mutating func readInteger<T: FixedWidthInteger>(_ what: @autoclosure () -> String, as: T.Type = T.self) throws -> T {
        guard let value = buffer.readInteger(endianness: .little, as: T.self) else {
            throw OPCUADecodeError.truncated(what: what(), offset: offset, needed: MemoryLayout<T>.size, remaining: remaining)
        }
        return value
    }

    public mutating func readBoolean(_ what: @autoclosure () -> String) throws -> Bool {
        // Part 6 §5.2.2.1: any non-zero byte is true.
        try readInteger(what(), as: UInt8.self) != 0
    }

    public mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try readInteger(what(), as: UInt32.self))
    }

    public mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try readInteger(what(), as: UInt64.self))
    }

    /// `count` raw bytes, checked against the bytes remaining before anything is allocated.
    public mutating func readBytes(count: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        guard count <= remaining, let bytes = buffer.readBytes(length: count) else {
            throw OPCUADecodeError.truncated(what: what(), offset: offset, needed: count, remaining: remaining)
        }
        return bytes
    }

    /// The next `count` bytes as a slice sharing storage with the input.
    public mutating func readSlice(count: Int, _ what: @autoclosure () -> String) throws -> ByteBuffer {
        guard count <= remaining, let slice = buffer.readSlice(length: count) else {
            throw OPCUADecodeError.truncated(what: what(), offset: offset, needed: count, remaining: remaining)
        }
        return slice
    }

    /// An Int32 length prefix: nil for -1 (null), otherwise a count checked against `limit` and
    /// against the bytes remaining (each element takes at least `minimumElementSize` bytes).
    mutating func readLength(_ what: String, limit: Int, minimumElementSize: Int) throws -> Int? {
        let at = offset
        let length = try readInteger("length of \(what)", as: Int32.self)
        if length == -1 { return nil }
        guard length >= 0 else { throw OPCUADecodeError.invalidLength(what: what, offset: at, length: Int64(length)) }
        let count = Int(length)
        guard count <= limit else { throw OPCUADecodeError.limitExceeded(what: what, offset: at, length: count, limit: limit) }
        let (needed, overflow) = count.multipliedReportingOverflow(by: minimumElementSize)
        guard !overflow, needed <= remaining else {
            throw OPCUADecodeError.truncated(what: what, offset: offset, needed: overflow ? Int.max : needed, remaining: remaining)
        }
        return count
    }

    /// String (Part 6 §5.2.2.4): Int32 byte length, -1 for null, then UTF-8.
    public mutating func readString(_ what: @autoclosure () -> String) throws -> String? {
        let name = what()
        let start = offset
        guard let bytes = try readByteString(name) else { return nil }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw OPCUADecodeError.invalidValue(what: name, offset: start, reason: "not well-formed UTF-8")
        }
        return string
    }

    /// ByteString and XmlElement (Part 6 §5.2.2.7, §5.2.2.8): Int32 length, -1 for null, then the bytes.
    public mutating func readByteString(_ what: @autoclosure () -> String) throws -> [UInt8]? {
        let name = what()
        guard let count = try readLength(name, limit: limits.maxStringLength, minimumElementSize: 1) else { return nil }
        return try readBytes(count: count, name)
    }

    /// An array (Part 6 §5.2.5): Int32 count, -1 for null (read as empty), then the elements.
    public mutating func readArray<T>(_ what: @autoclosure () -> String, minimumElementSize: Int = 1,
                                      _ element: (inout BinaryReader) throws -> T) throws -> [T] {
        let name = what()
        guard let count = try readLength(name, limit: limits.maxArrayLength, minimumElementSize: minimumElementSize) else { return [] }
        var elements: [T] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try element(&self)) }
        return elements
    }

    /// Runs `body` one nesting level deeper, refusing to go past `limits.maxNestingDepth`.
    public mutating func nested<T>(_ what: @autoclosure () -> String, _ body: (inout BinaryReader) throws -> T) throws -> T {
        guard depth < limits.maxNestingDepth else {
            throw OPCUADecodeError.nestingTooDeep(what: what(), offset: offset, limit: limits.maxNestingDepth)
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    public mutating func read<T: OPCUABinaryCodable>(_ type: T.Type = T.self) throws -> T {
        try T(from: &self)
    }

    func invalid(_ what: String, at offset: Int, _ reason: String) -> OPCUADecodeError {
        .invalidValue(what: what, offset: offset, reason: reason)
    }
}

/// Writes OPC UA binary encoded values into a buffer.
public struct BinaryWriter {
    public var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer = ByteBuffer()) { self.buffer = buffer }

    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        buffer.writeInteger(value, endianness: .little)
    }

    public mutating func writeBoolean(_ value: Bool) { writeInteger(UInt8(value ? 1 : 0)) }
    public mutating func writeFloat(_ value: Float) { writeInteger(value.bitPattern) }
    public mutating func writeDouble(_ value: Double) { writeInteger(value.bitPattern) }

    mutating func writeLength(_ count: Int?, _ what: String) throws {
        guard let count else { return writeInteger(Int32(-1)) }
        guard let length = Int32(exactly: count) else { throw OPCUAEncodeError("\(what) of \(count) elements does not fit in an Int32 length") }
        writeInteger(length)
    }

    public mutating func writeString(_ value: String?) throws {
        try writeByteString(value.map { Array($0.utf8) })
    }

    public mutating func writeByteString(_ value: [UInt8]?) throws {
        try writeLength(value?.count, "byte string")
        if let value { buffer.writeBytes(value) }
    }

    public mutating func writeArray<T>(_ elements: [T], _ element: (inout BinaryWriter, T) throws -> Void) throws {
        try writeLength(elements.count, "array")
        for e in elements { try element(&self, e) }
    }

    public mutating func write<T: OPCUABinaryCodable>(_ value: T) throws {
        try value.encode(to: &self)
    }
}

/// A value with an OPC UA binary encoding. The structures of Part 4 (the service requests and
/// responses) conform next; ``ExtensionObject`` bodies decode through it.
public protocol OPCUABinaryCodable {
    init(from reader: inout BinaryReader) throws
    func encode(to writer: inout BinaryWriter) throws
}

extension OPCUABinaryCodable {
    /// Decodes one value that must use up `buffer` exactly.
    public static func decode(_ buffer: ByteBuffer, limits: DecodingLimits = DecodingLimits()) throws -> Self {
        var reader = BinaryReader(buffer, limits: limits)
        let value = try Self(from: &reader)
        try reader.expectEnd("\(Self.self)")
        return value
    }

    public func encoded() throws -> ByteBuffer {
        var writer = BinaryWriter()
        try encode(to: &writer)
        return writer.buffer
    }
}

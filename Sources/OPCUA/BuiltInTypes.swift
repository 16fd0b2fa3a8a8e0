/// DateTime (Part 6 §5.2.2.5): 100-nanosecond ticks since 1601-01-01 00:00 UTC, clamped on both
/// sides: 0 stands for "no earlier than 1601", Int64.max for "no later than 9999-12-31 23:59:59".
public struct DateTime: Hashable, Sendable, Comparable {
    public private(set) var ticks: Int64

    /// Ticks from 1601-01-01 to 1970-01-01.
    public static let unixEpochTicks: Int64 = 116_444_736_000_000_000
    /// Ticks from 1601-01-01 to 9999-12-31 23:59:59 UTC: at or after this, the encoding is Int64.max.
    public static let latestTicks: Int64 = 2_650_467_743_990_000_000

    public static let minimum = DateTime(ticks: 0)
    public static let maximum = DateTime(ticks: .max)

    /// Clamps per Part 6: anything before 1601 is the minimum, anything from the latest date on
    /// is the maximum.
    public init(ticks: Int64) {
        if ticks <= 0 { self.ticks = 0 } else if ticks >= DateTime.latestTicks { self.ticks = .max } else { self.ticks = ticks }
    }

    /// Nanoseconds since 1970-01-01 UTC, truncated to the tick. Cannot overflow: Int64
    /// nanoseconds reach from 1677 to 2262.
    public init(unixNanoseconds: Int64) {
        self.init(ticks: unixNanoseconds / 100 + DateTime.unixEpochTicks)
    }

    public static func < (a: DateTime, b: DateTime) -> Bool { a.ticks < b.ticks }
}

extension DateTime: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        self.init(ticks: try reader.readInteger("DateTime", as: Int64.self))
    }

    public func encode(to writer: inout BinaryWriter) throws { writer.writeInteger(ticks) }
}

/// Guid (Part 6 §5.2.2.6). `data4` holds its eight bytes in written order, most significant first.
public struct Guid: Hashable, Sendable, CustomStringConvertible {
    public var data1: UInt32
    public var data2: UInt16
    public var data3: UInt16
    public var data4: UInt64

    public init(data1: UInt32, data2: UInt16, data3: UInt16, data4: UInt64) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        self.data4 = data4
    }

    /// "72962B91-FA75-4AE6-8D28-B404DC7DAF63", the form of Part 6 and of NodeId strings.
    public var description: String {
        func hex<T: FixedWidthInteger>(_ v: T, _ digits: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: digits - s.count) + s
        }
        return "\(hex(data1, 8))-\(hex(data2, 4))-\(hex(data3, 4))-\(hex(data4 >> 48, 4))-\(hex(data4 & 0xFFFF_FFFF_FFFF, 12))"
    }
}

extension Guid: OPCUABinaryCodable {
    // The first three fields are little-endian like every integer; Data4 is a byte array.
    public init(from reader: inout BinaryReader) throws {
        data1 = try reader.readInteger("Guid Data1")
        data2 = try reader.readInteger("Guid Data2")
        data3 = try reader.readInteger("Guid Data3")
        data4 = try reader.readBytes(count: 8, "Guid Data4").reduce(0) { $0 << 8 | UInt64($1) }
    }

    public func encode(to writer: inout BinaryWriter) throws {
        writer.writeInteger(data1)
        writer.writeInteger(data2)
        writer.writeInteger(data3)
        writer.buffer.writeInteger(data4, endianness: .big)
    }
}

extension StatusCode: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        self.init(rawValue: try reader.readInteger("StatusCode"))
    }

    public func encode(to writer: inout BinaryWriter) throws { writer.writeInteger(rawValue) }
}

/// QualifiedName (Part 6 §5.2.2.13): a namespace index and a name.
public struct QualifiedName: Hashable, Sendable {
    public var namespaceIndex: UInt16
    public var name: String?

    public init(namespaceIndex: UInt16 = 0, name: String?) {
        self.namespaceIndex = namespaceIndex
        self.name = name
    }
}

extension QualifiedName: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        namespaceIndex = try reader.readInteger("QualifiedName namespace index")
        name = try reader.readString("QualifiedName name")
    }

    public func encode(to writer: inout BinaryWriter) throws {
        writer.writeInteger(namespaceIndex)
        try writer.writeString(name)
    }
}

/// LocalizedText (Part 6 §5.2.2.14): an encoding mask says which of locale and text follow.
public struct LocalizedText: Hashable, Sendable {
    public var locale: String?
    public var text: String?

    public init(locale: String? = nil, text: String?) {
        self.locale = locale
        self.text = text
    }
}

extension LocalizedText: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        let at = reader.offset
        let mask = try reader.readInteger("LocalizedText encoding mask", as: UInt8.self)
        guard mask & ~0x03 == 0 else { throw reader.invalid("LocalizedText encoding mask", at: at, "reserved bits set in \(mask)") }
        locale = mask & 0x01 != 0 ? try reader.readString("LocalizedText locale") : nil
        text = mask & 0x02 != 0 ? try reader.readString("LocalizedText text") : nil
    }

    public func encode(to writer: inout BinaryWriter) throws {
        writer.writeInteger(UInt8((locale == nil ? 0 : 0x01) | (text == nil ? 0 : 0x02)))
        if let locale { try writer.writeString(locale) }
        if let text { try writer.writeString(text) }
    }
}

/// ExtensionObject (Part 6 §5.2.2.15): a structure identified by its encoding's NodeId. Bodies
/// stay as bytes here; the service layer decodes the ones it knows by `typeId`.
public struct ExtensionObject: Hashable, Sendable {
    public enum Body: Hashable, Sendable {
        case none
        case binary([UInt8])
        case xml([UInt8])
    }

    public var typeId: NodeId
    public var body: Body

    public init(typeId: NodeId, body: Body) {
        self.typeId = typeId
        self.body = body
    }

    /// Wraps an encodable structure under the NodeId of its binary encoding.
    public init<T: OPCUABinaryCodable>(binaryEncodingId: NodeId, _ value: T) throws {
        self.init(typeId: binaryEncodingId, body: .binary(Array(try value.encoded().readableBytesView)))
    }
}

extension ExtensionObject: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        typeId = try reader.read()
        let at = reader.offset
        switch try reader.readInteger("ExtensionObject encoding", as: UInt8.self) {
        case 0x00: body = .none
        // A null body (length -1) is read as empty: the structure's fields decide what that means.
        case 0x01: body = .binary(try reader.readByteString("ExtensionObject body") ?? [])
        case 0x02: body = .xml(try reader.readByteString("ExtensionObject XML body") ?? [])
        case let other: throw reader.invalid("ExtensionObject encoding", at: at, "unknown encoding \(other)")
        }
    }

    public func encode(to writer: inout BinaryWriter) throws {
        try writer.write(typeId)
        switch body {
        case .none: writer.writeInteger(UInt8(0x00))
        case .binary(let bytes):
            writer.writeInteger(UInt8(0x01))
            try writer.writeByteString(bytes)
        case .xml(let bytes):
            writer.writeInteger(UInt8(0x02))
            try writer.writeByteString(bytes)
        }
    }
}

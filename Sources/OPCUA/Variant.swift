/// The built-in types and their ids in a Variant's encoding byte (Part 6 §5.1.2).
public enum BuiltInType: UInt8, Hashable, Sendable, CaseIterable {
    case boolean = 1, sByte, byte, int16, uInt16, int32, uInt32, int64, uInt64, float, double, string, dateTime, guid,
         byteString, xmlElement, nodeId, expandedNodeId, statusCode, qualifiedName, localizedText, extensionObject,
         dataValue, variant, diagnosticInfo

    /// The fewest bytes one value takes, so an array count can be checked against the bytes left.
    var minimumEncodedSize: Int {
        switch self {
        case .boolean, .sByte, .byte, .localizedText, .dataValue, .variant, .diagnosticInfo: return 1
        case .int16, .uInt16, .nodeId, .expandedNodeId: return 2
        case .int32, .uInt32, .float, .string, .byteString, .xmlElement, .statusCode: return 4
        case .extensionObject: return 3
        case .qualifiedName: return 6
        case .int64, .uInt64, .double, .dateTime: return 8
        case .guid: return 16
        }
    }
}

/// One value of a built-in type: a Variant's scalar, or an element of its array.
public indirect enum Scalar: Hashable, Sendable {
    case boolean(Bool)
    case sByte(Int8)
    case byte(UInt8)
    case int16(Int16)
    case uInt16(UInt16)
    case int32(Int32)
    case uInt32(UInt32)
    case int64(Int64)
    case uInt64(UInt64)
    case float(Float)
    case double(Double)
    case string(String?)
    case dateTime(DateTime)
    case guid(Guid)
    case byteString([UInt8]?)
    case xmlElement([UInt8]?)
    case nodeId(NodeId)
    case expandedNodeId(ExpandedNodeId)
    case statusCode(StatusCode)
    case qualifiedName(QualifiedName)
    case localizedText(LocalizedText)
    case extensionObject(ExtensionObject)
    case dataValue(DataValue)
    /// Only as an array element: Part 6 §5.2.2.16 has no Variant scalar inside a Variant.
    case variant(Variant)
    case diagnosticInfo(DiagnosticInfo)

    public var type: BuiltInType {
        switch self {
        case .boolean: return .boolean
        case .sByte: return .sByte
        case .byte: return .byte
        case .int16: return .int16
        case .uInt16: return .uInt16
        case .int32: return .int32
        case .uInt32: return .uInt32
        case .int64: return .int64
        case .uInt64: return .uInt64
        case .float: return .float
        case .double: return .double
        case .string: return .string
        case .dateTime: return .dateTime
        case .guid: return .guid
        case .byteString: return .byteString
        case .xmlElement: return .xmlElement
        case .nodeId: return .nodeId
        case .expandedNodeId: return .expandedNodeId
        case .statusCode: return .statusCode
        case .qualifiedName: return .qualifiedName
        case .localizedText: return .localizedText
        case .extensionObject: return .extensionObject
        case .dataValue: return .dataValue
        case .variant: return .variant
        case .diagnosticInfo: return .diagnosticInfo
        }
    }

    /// The value without its type byte, as inside a Variant.
    static func decode(_ type: BuiltInType, from reader: inout BinaryReader) throws -> Scalar {
        switch type {
        case .boolean: return .boolean(try reader.readBoolean("Boolean"))
        case .sByte: return .sByte(try reader.readInteger("SByte"))
        case .byte: return .byte(try reader.readInteger("Byte"))
        case .int16: return .int16(try reader.readInteger("Int16"))
        case .uInt16: return .uInt16(try reader.readInteger("UInt16"))
        case .int32: return .int32(try reader.readInteger("Int32"))
        case .uInt32: return .uInt32(try reader.readInteger("UInt32"))
        case .int64: return .int64(try reader.readInteger("Int64"))
        case .uInt64: return .uInt64(try reader.readInteger("UInt64"))
        case .float: return .float(try reader.readFloat("Float"))
        case .double: return .double(try reader.readDouble("Double"))
        case .string: return .string(try reader.readString("String"))
        case .dateTime: return .dateTime(try reader.read())
        case .guid: return .guid(try reader.read())
        case .byteString: return .byteString(try reader.readByteString("ByteString"))
        case .xmlElement: return .xmlElement(try reader.readByteString("XmlElement"))
        case .nodeId: return .nodeId(try reader.read())
        case .expandedNodeId: return .expandedNodeId(try reader.read())
        case .statusCode: return .statusCode(try reader.read())
        case .qualifiedName: return .qualifiedName(try reader.read())
        case .localizedText: return .localizedText(try reader.read())
        case .extensionObject: return .extensionObject(try reader.read())
        case .dataValue: return .dataValue(try reader.nested("DataValue in a Variant") { try $0.read() })
        case .variant: return .variant(try reader.read())
        case .diagnosticInfo: return .diagnosticInfo(try reader.read())
        }
    }

    func encode(to writer: inout BinaryWriter) throws {
        switch self {
        case .boolean(let v): writer.writeBoolean(v)
        case .sByte(let v): writer.writeInteger(v)
        case .byte(let v): writer.writeInteger(v)
        case .int16(let v): writer.writeInteger(v)
        case .uInt16(let v): writer.writeInteger(v)
        case .int32(let v): writer.writeInteger(v)
        case .uInt32(let v): writer.writeInteger(v)
        case .int64(let v): writer.writeInteger(v)
        case .uInt64(let v): writer.writeInteger(v)
        case .float(let v): writer.writeFloat(v)
        case .double(let v): writer.writeDouble(v)
        case .string(let v): try writer.writeString(v)
        case .dateTime(let v): try writer.write(v)
        case .guid(let v): try writer.write(v)
        case .byteString(let v), .xmlElement(let v): try writer.writeByteString(v)
        case .nodeId(let v): try writer.write(v)
        case .expandedNodeId(let v): try writer.write(v)
        case .statusCode(let v): try writer.write(v)
        case .qualifiedName(let v): try writer.write(v)
        case .localizedText(let v): try writer.write(v)
        case .extensionObject(let v): try writer.write(v)
        case .dataValue(let v): try writer.write(v)
        case .variant(let v): try writer.write(v)
        case .diagnosticInfo(let v): try writer.write(v)
        }
    }
}

/// Variant (Part 6 §5.2.2.16): empty, one scalar, or an array of one built-in type, optionally
/// with the dimensions of a matrix.
public enum Variant: Hashable, Sendable {
    case null
    case scalar(Scalar)
    /// All `elements` are of `type`; `dimensions`, when given, multiply to `elements.count`.
    case array(type: BuiltInType, elements: [Scalar], dimensions: [Int32]? = nil)
}

private enum VariantMask {
    static let typeBits: UInt8 = 0x3F
    static let dimensions: UInt8 = 0x40
    static let array: UInt8 = 0x80
}

extension Variant: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        self = try reader.nested("Variant") { reader in
            let at = reader.offset
            let mask = try reader.readInteger("Variant encoding mask", as: UInt8.self)
            let typeId = mask & VariantMask.typeBits
            if typeId == 0 {
                guard mask == 0 else { throw reader.invalid("Variant encoding mask", at: at, "array flags on a null Variant") }
                return .null
            }
            guard let type = BuiltInType(rawValue: typeId) else {
                throw reader.invalid("Variant encoding mask", at: at, "unknown built-in type \(typeId)")
            }
            guard mask & VariantMask.array != 0 else {
                guard mask & VariantMask.dimensions == 0 else {
                    throw reader.invalid("Variant encoding mask", at: at, "array dimensions on a scalar")
                }
                guard type != .variant else { throw reader.invalid("Variant encoding mask", at: at, "a Variant scalar inside a Variant") }
                return .scalar(try Scalar.decode(type, from: &reader))
            }
            let elements = try reader.readArray("Variant array", minimumElementSize: type.minimumEncodedSize) {
                try Scalar.decode(type, from: &$0)
            }
            guard mask & VariantMask.dimensions != 0 else { return .array(type: type, elements: elements) }
            let dimensionsAt = reader.offset
            let dimensions = try reader.readArray("Variant array dimensions", minimumElementSize: 4) {
                try $0.readInteger("array dimension", as: Int32.self)
            }
            guard Variant.product(of: dimensions) == elements.count else {
                throw reader.invalid("Variant array dimensions", at: dimensionsAt,
                                     "\(dimensions) do not match the \(elements.count) elements")
            }
            return .array(type: type, elements: elements, dimensions: dimensions)
        }
    }

    /// The number of elements a matrix of these dimensions holds; nil when a dimension is
    /// negative or the product overflows.
    static func product(of dimensions: [Int32]) -> Int? {
        var total = 1
        for d in dimensions {
            guard d >= 0 else { return nil }
            let (p, overflow) = total.multipliedReportingOverflow(by: Int(d))
            guard !overflow else { return nil }
            total = p
        }
        return total
    }

    public func encode(to writer: inout BinaryWriter) throws {
        switch self {
        case .null:
            writer.writeInteger(UInt8(0))
        case .scalar(let value):
            guard value.type != .variant else { throw OPCUAEncodeError("a Variant scalar cannot hold a Variant") }
            writer.writeInteger(value.type.rawValue)
            try value.encode(to: &writer)
        case let .array(type, elements, dimensions):
            if let wrong = elements.first(where: { $0.type != type }) {
                throw OPCUAEncodeError("a \(wrong.type) element in a \(type) array")
            }
            if let dimensions, Variant.product(of: dimensions) != elements.count {
                throw OPCUAEncodeError("dimensions \(dimensions) do not match \(elements.count) elements")
            }
            writer.writeInteger(type.rawValue | VariantMask.array | (dimensions == nil ? 0 : VariantMask.dimensions))
            try writer.writeArray(elements) { try $1.encode(to: &$0) }
            if let dimensions { try writer.writeArray(dimensions) { $0.writeInteger($1) } }
        }
    }
}

/// DataValue (Part 6 §5.2.2.17): a value with its status and timestamps, each present or not.
public struct DataValue: Hashable, Sendable {
    public var value: Variant?
    public var status: StatusCode?
    public var sourceTimestamp: DateTime?
    public var sourcePicoseconds: UInt16?
    public var serverTimestamp: DateTime?
    public var serverPicoseconds: UInt16?

    public init(value: Variant? = nil, status: StatusCode? = nil, sourceTimestamp: DateTime? = nil, sourcePicoseconds: UInt16? = nil,
                serverTimestamp: DateTime? = nil, serverPicoseconds: UInt16? = nil) {
        self.value = value
        self.status = status
        self.sourceTimestamp = sourceTimestamp
        self.sourcePicoseconds = sourcePicoseconds
        self.serverTimestamp = serverTimestamp
        self.serverPicoseconds = serverPicoseconds
    }
}

private enum DataValueMask {
    static let value: UInt8 = 0x01
    static let status: UInt8 = 0x02
    static let sourceTimestamp: UInt8 = 0x04
    static let serverTimestamp: UInt8 = 0x08
    static let sourcePicoseconds: UInt8 = 0x10
    static let serverPicoseconds: UInt8 = 0x20
}

extension DataValue: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        let at = reader.offset
        let mask = try reader.readInteger("DataValue encoding mask", as: UInt8.self)
        guard mask & 0xC0 == 0 else { throw reader.invalid("DataValue encoding mask", at: at, "reserved bits set in \(mask)") }
        // Field order per Opc.Ua.Types.bsd: value, status, source time and picoseconds, server time and picoseconds.
        value = mask & DataValueMask.value != 0 ? try reader.read() : nil
        status = mask & DataValueMask.status != 0 ? try reader.read() : nil
        sourceTimestamp = mask & DataValueMask.sourceTimestamp != 0 ? try reader.read() : nil
        sourcePicoseconds = mask & DataValueMask.sourcePicoseconds != 0 ? try reader.readInteger("DataValue source picoseconds") : nil
        serverTimestamp = mask & DataValueMask.serverTimestamp != 0 ? try reader.read() : nil
        serverPicoseconds = mask & DataValueMask.serverPicoseconds != 0 ? try reader.readInteger("DataValue server picoseconds") : nil
    }

    public func encode(to writer: inout BinaryWriter) throws {
        var mask: UInt8 = 0
        if value != nil { mask |= DataValueMask.value }
        if status != nil { mask |= DataValueMask.status }
        if sourceTimestamp != nil { mask |= DataValueMask.sourceTimestamp }
        if serverTimestamp != nil { mask |= DataValueMask.serverTimestamp }
        if sourcePicoseconds != nil { mask |= DataValueMask.sourcePicoseconds }
        if serverPicoseconds != nil { mask |= DataValueMask.serverPicoseconds }
        writer.writeInteger(mask)
        if let value { try writer.write(value) }
        if let status { try writer.write(status) }
        if let sourceTimestamp { try writer.write(sourceTimestamp) }
        if let sourcePicoseconds { writer.writeInteger(sourcePicoseconds) }
        if let serverTimestamp { try writer.write(serverTimestamp) }
        if let serverPicoseconds { writer.writeInteger(serverPicoseconds) }
    }
}

/// DiagnosticInfo (Part 6 §5.2.2.12): indexes into a response's string table, and an inner
/// DiagnosticInfo, recursively (bounded by the nesting limit when decoding).
public struct DiagnosticInfo: Hashable, Sendable {
    public var symbolicId: Int32?
    public var namespaceURI: Int32?
    public var locale: Int32?
    public var localizedText: Int32?
    public var additionalInfo: String?
    public var innerStatusCode: StatusCode?
    /// Zero or one element: an array is how a struct holds a value of its own type.
    private var inner: [DiagnosticInfo] = []

    public var innerDiagnosticInfo: DiagnosticInfo? {
        get { inner.first }
        set { inner = newValue.map { [$0] } ?? [] }
    }

    public init(symbolicId: Int32? = nil, namespaceURI: Int32? = nil, locale: Int32? = nil, localizedText: Int32? = nil,
                additionalInfo: String? = nil, innerStatusCode: StatusCode? = nil, innerDiagnosticInfo: DiagnosticInfo? = nil) {
        self.symbolicId = symbolicId
        self.namespaceURI = namespaceURI
        self.locale = locale
        self.localizedText = localizedText
        self.additionalInfo = additionalInfo
        self.innerStatusCode = innerStatusCode
        self.innerDiagnosticInfo = innerDiagnosticInfo
    }
}

private enum DiagnosticInfoMask {
    static let symbolicId: UInt8 = 0x01
    static let namespaceURI: UInt8 = 0x02
    static let localizedText: UInt8 = 0x04
    static let locale: UInt8 = 0x08
    static let additionalInfo: UInt8 = 0x10
    static let innerStatusCode: UInt8 = 0x20
    static let innerDiagnosticInfo: UInt8 = 0x40
}

extension DiagnosticInfo: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        self = try reader.nested("DiagnosticInfo") { reader in
            let at = reader.offset
            let mask = try reader.readInteger("DiagnosticInfo encoding mask", as: UInt8.self)
            guard mask & 0x80 == 0 else { throw reader.invalid("DiagnosticInfo encoding mask", at: at, "reserved bit set") }
            typealias M = DiagnosticInfoMask
            // Field order per Opc.Ua.Types.bsd: locale comes before localized text, unlike the mask bits.
            var f = DiagnosticInfo()
            f.symbolicId = mask & M.symbolicId != 0 ? try reader.readInteger("DiagnosticInfo symbolic id") : nil
            f.namespaceURI = mask & M.namespaceURI != 0 ? try reader.readInteger("DiagnosticInfo namespace URI") : nil
            f.locale = mask & M.locale != 0 ? try reader.readInteger("DiagnosticInfo locale") : nil
            f.localizedText = mask & M.localizedText != 0 ? try reader.readInteger("DiagnosticInfo localized text") : nil
            f.additionalInfo = mask & M.additionalInfo != 0 ? try reader.readString("DiagnosticInfo additional info") : nil
            f.innerStatusCode = mask & M.innerStatusCode != 0 ? try reader.read() : nil
            f.innerDiagnosticInfo = mask & M.innerDiagnosticInfo != 0 ? try reader.read() : nil
            return f
        }
    }

    public func encode(to writer: inout BinaryWriter) throws {
        typealias M = DiagnosticInfoMask
        let f = self
        var mask: UInt8 = 0
        if f.symbolicId != nil { mask |= M.symbolicId }
        if f.namespaceURI != nil { mask |= M.namespaceURI }
        if f.localizedText != nil { mask |= M.localizedText }
        if f.locale != nil { mask |= M.locale }
        if f.additionalInfo != nil { mask |= M.additionalInfo }
        if f.innerStatusCode != nil { mask |= M.innerStatusCode }
        if f.innerDiagnosticInfo != nil { mask |= M.innerDiagnosticInfo }
        writer.writeInteger(mask)
        if let v = f.symbolicId { writer.writeInteger(v) }
        if let v = f.namespaceURI { writer.writeInteger(v) }
        if let v = f.locale { writer.writeInteger(v) }
        if let v = f.localizedText { writer.writeInteger(v) }
        if let v = f.additionalInfo { try writer.writeString(v) }
        if let v = f.innerStatusCode { try writer.write(v) }
        if let v = f.innerDiagnosticInfo { try writer.write(v) }
    }
}

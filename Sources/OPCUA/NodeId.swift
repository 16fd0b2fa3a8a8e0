/// NodeId (Part 6 §5.2.2.9): a namespace index and a numeric, string, GUID or opaque identifier.
public struct NodeId: Hashable, Sendable, CustomStringConvertible {
    public enum Identifier: Hashable, Sendable {
        case numeric(UInt32)
        case string(String)
        case guid(Guid)
        case opaque([UInt8])
    }

    public var namespaceIndex: UInt16
    public var identifier: Identifier

    public init(namespaceIndex: UInt16 = 0, _ identifier: Identifier) {
        self.namespaceIndex = namespaceIndex
        self.identifier = identifier
    }

    public init(namespaceIndex: UInt16 = 0, numeric: UInt32) {
        self.init(namespaceIndex: namespaceIndex, .numeric(numeric))
    }

    /// The text form of Part 6 §5.3.1.10: `ns=1;s=Cam`, `i=85`.
    public var description: String {
        let ns = namespaceIndex == 0 ? "" : "ns=\(namespaceIndex);"
        switch identifier {
        case .numeric(let v): return "\(ns)i=\(v)"
        case .string(let v): return "\(ns)s=\(v)"
        case .guid(let v): return "\(ns)g=\(v)"
        case .opaque(let v): return "\(ns)b=\(v.count) bytes"
        }
    }
}

/// The first byte of an encoded NodeId: the form in the low six bits, ExpandedNodeId flags above.
enum NodeIdEncoding {
    static let twoByte: UInt8 = 0x00
    static let fourByte: UInt8 = 0x01
    static let numeric: UInt8 = 0x02
    static let string: UInt8 = 0x03
    static let guid: UInt8 = 0x04
    static let byteString: UInt8 = 0x05
    static let serverIndexFlag: UInt8 = 0x40
    static let namespaceURIFlag: UInt8 = 0x80
}

extension NodeId: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        let at = reader.offset
        let encoding = try reader.readInteger("NodeId encoding", as: UInt8.self)
        guard encoding & (NodeIdEncoding.serverIndexFlag | NodeIdEncoding.namespaceURIFlag) == 0 else {
            throw reader.invalid("NodeId encoding", at: at, "ExpandedNodeId flags set in a NodeId")
        }
        self = try NodeId(encoding: encoding, at: at, from: &reader)
    }

    /// The body of a NodeId whose encoding byte (flags masked off by the caller) was read at `at`.
    init(encoding: UInt8, at: Int, from reader: inout BinaryReader) throws {
        switch encoding {
        case NodeIdEncoding.twoByte:
            self.init(numeric: UInt32(try reader.readInteger("NodeId identifier", as: UInt8.self)))
        case NodeIdEncoding.fourByte:
            let ns = UInt16(try reader.readInteger("NodeId namespace", as: UInt8.self))
            self.init(namespaceIndex: ns, numeric: UInt32(try reader.readInteger("NodeId identifier", as: UInt16.self)))
        case NodeIdEncoding.numeric:
            let ns = try reader.readInteger("NodeId namespace", as: UInt16.self)
            self.init(namespaceIndex: ns, numeric: try reader.readInteger("NodeId identifier", as: UInt32.self))
        case NodeIdEncoding.string:
            let ns = try reader.readInteger("NodeId namespace", as: UInt16.self)
            // A null string identifier carries nothing an empty one does not.
            self.init(namespaceIndex: ns, .string(try reader.readString("NodeId string identifier") ?? ""))
        case NodeIdEncoding.guid:
            let ns = try reader.readInteger("NodeId namespace", as: UInt16.self)
            self.init(namespaceIndex: ns, .guid(try reader.read()))
        case NodeIdEncoding.byteString:
            let ns = try reader.readInteger("NodeId namespace", as: UInt16.self)
            self.init(namespaceIndex: ns, .opaque(try reader.readByteString("NodeId opaque identifier") ?? []))
        default:
            throw reader.invalid("NodeId encoding", at: at, "unknown encoding \(encoding)")
        }
    }

    public func encode(to writer: inout BinaryWriter) throws { try encode(flags: 0, to: &writer) }

    /// Writes the smallest form that holds the value, with ExpandedNodeId `flags` or'ed into the first byte.
    func encode(flags: UInt8, to writer: inout BinaryWriter) throws {
        switch identifier {
        case .numeric(let v) where namespaceIndex == 0 && v <= UInt8.max:
            writer.writeInteger(NodeIdEncoding.twoByte | flags)
            writer.writeInteger(UInt8(v))
        case .numeric(let v) where namespaceIndex <= UInt8.max && v <= UInt16.max:
            writer.writeInteger(NodeIdEncoding.fourByte | flags)
            writer.writeInteger(UInt8(namespaceIndex))
            writer.writeInteger(UInt16(v))
        case .numeric(let v):
            writer.writeInteger(NodeIdEncoding.numeric | flags)
            writer.writeInteger(namespaceIndex)
            writer.writeInteger(v)
        case .string(let v):
            writer.writeInteger(NodeIdEncoding.string | flags)
            writer.writeInteger(namespaceIndex)
            try writer.writeString(v)
        case .guid(let v):
            writer.writeInteger(NodeIdEncoding.guid | flags)
            writer.writeInteger(namespaceIndex)
            try writer.write(v)
        case .opaque(let v):
            writer.writeInteger(NodeIdEncoding.byteString | flags)
            writer.writeInteger(namespaceIndex)
            try writer.writeByteString(v)
        }
    }
}

/// ExpandedNodeId (Part 6 §5.2.2.10): a NodeId that may name its namespace by URI and live on
/// another server.
public struct ExpandedNodeId: Hashable, Sendable {
    public var nodeId: NodeId
    /// When set, it replaces `nodeId.namespaceIndex` (written as 0).
    public var namespaceURI: String?
    public var serverIndex: UInt32

    public init(_ nodeId: NodeId, namespaceURI: String? = nil, serverIndex: UInt32 = 0) {
        self.nodeId = nodeId
        self.namespaceURI = namespaceURI
        self.serverIndex = serverIndex
    }
}

extension ExpandedNodeId: OPCUABinaryCodable {
    public init(from reader: inout BinaryReader) throws {
        let at = reader.offset
        let first = try reader.readInteger("ExpandedNodeId encoding", as: UInt8.self)
        let flags = first & (NodeIdEncoding.serverIndexFlag | NodeIdEncoding.namespaceURIFlag)
        nodeId = try NodeId(encoding: first & ~flags, at: at, from: &reader)
        namespaceURI = flags & NodeIdEncoding.namespaceURIFlag != 0 ? try reader.readString("ExpandedNodeId namespace URI") : nil
        serverIndex = flags & NodeIdEncoding.serverIndexFlag != 0 ? try reader.readInteger("ExpandedNodeId server index") : 0
    }

    public func encode(to writer: inout BinaryWriter) throws {
        var id = nodeId
        var flags: UInt8 = 0
        if namespaceURI != nil {
            flags |= NodeIdEncoding.namespaceURIFlag
            id.namespaceIndex = 0
        }
        if serverIndex != 0 { flags |= NodeIdEncoding.serverIndexFlag }
        try id.encode(flags: flags, to: &writer)
        if let namespaceURI { try writer.writeString(namespaceURI) }
        if serverIndex != 0 { writer.writeInteger(serverIndex) }
    }
}

/// The namespace-0 NodeIds (NodeIds.csv) of the secure channel's first messages, which the next
/// step under #14 encodes as ExtensionObjects.
extension NodeId {
    public static let openSecureChannelRequestEncodingDefaultBinary = NodeId(numeric: 446)
    public static let openSecureChannelResponseEncodingDefaultBinary = NodeId(numeric: 449)
    public static let serviceFaultEncodingDefaultBinary = NodeId(numeric: 397)
}

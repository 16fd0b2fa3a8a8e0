import NIOCore

/// A Part 4 service request or response: a structure sent as the body of a MSG (or OPN, CLO)
/// message, after the NodeId of its DefaultBinary encoding (Part 6 §6.7.2.2, §5.2.2.15).
public protocol ServiceMessage: OPCUABinaryCodable {
    static var binaryEncodingId: NodeId { get }
}

extension ServiceMessage {
    /// The message body: the encoding's NodeId, then the structure.
    public func encodedMessage() throws -> ByteBuffer {
        var writer = BinaryWriter()
        try writer.write(Self.binaryEncodingId)
        try encode(to: &writer)
        return writer.buffer
    }
}

/// RequestHeader (Part 4 §7.33): common to every request.
public struct RequestHeader: Hashable, Sendable {
    /// The session's secret token (Part 4 §7.31), the null NodeId outside a session.
    public var authenticationToken: NodeId
    public var timestamp: DateTime
    /// The client's handle, echoed in the response.
    public var requestHandle: UInt32
    public var returnDiagnostics: UInt32
    public var auditEntryId: String?
    /// Milliseconds; 0: no timeout.
    public var timeoutHint: UInt32
    public var additionalHeader: ExtensionObject

    public init(authenticationToken: NodeId = .null, timestamp: DateTime = .minimum, requestHandle: UInt32, returnDiagnostics: UInt32 = 0,
                auditEntryId: String? = nil, timeoutHint: UInt32 = 0, additionalHeader: ExtensionObject = .null) {
        self.authenticationToken = authenticationToken
        self.timestamp = timestamp
        self.requestHandle = requestHandle
        self.returnDiagnostics = returnDiagnostics
        self.auditEntryId = auditEntryId
        self.timeoutHint = timeoutHint
        self.additionalHeader = additionalHeader
    }
}

extension RequestHeader: OPCUABinaryCodable {
    public init(from r: inout BinaryReader) throws {
        authenticationToken = try r.read()
        timestamp = try r.read()
        requestHandle = try r.readInteger("RequestHandle")
        returnDiagnostics = try r.readInteger("ReturnDiagnostics")
        auditEntryId = try r.readString("AuditEntryId")
        timeoutHint = try r.readInteger("TimeoutHint")
        additionalHeader = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(authenticationToken)
        try w.write(timestamp)
        w.writeInteger(requestHandle)
        w.writeInteger(returnDiagnostics)
        try w.writeString(auditEntryId)
        w.writeInteger(timeoutHint)
        try w.write(additionalHeader)
    }
}

/// ResponseHeader (Part 4 §7.34): common to every response.
public struct ResponseHeader: Hashable, Sendable {
    public var timestamp: DateTime
    public var requestHandle: UInt32
    public var serviceResult: StatusCode
    public var serviceDiagnostics: DiagnosticInfo
    public var stringTable: [String?]
    public var additionalHeader: ExtensionObject

    public init(timestamp: DateTime, requestHandle: UInt32, serviceResult: StatusCode = .good, serviceDiagnostics: DiagnosticInfo = DiagnosticInfo(),
                stringTable: [String?] = [], additionalHeader: ExtensionObject = .null) {
        self.timestamp = timestamp
        self.requestHandle = requestHandle
        self.serviceResult = serviceResult
        self.serviceDiagnostics = serviceDiagnostics
        self.stringTable = stringTable
        self.additionalHeader = additionalHeader
    }

    /// The header answering `request` at `now`.
    public init(answering request: RequestHeader, at now: DateTime, result: StatusCode = .good) {
        self.init(timestamp: now, requestHandle: request.requestHandle, serviceResult: result)
    }
}

extension ResponseHeader: OPCUABinaryCodable {
    public init(from r: inout BinaryReader) throws {
        timestamp = try r.read()
        requestHandle = try r.readInteger("RequestHandle")
        serviceResult = try r.read()
        serviceDiagnostics = try r.read()
        stringTable = try r.readArray("StringTable", minimumElementSize: 4) { try $0.readString("StringTable entry") }
        additionalHeader = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(timestamp)
        w.writeInteger(requestHandle)
        try w.write(serviceResult)
        try w.write(serviceDiagnostics)
        try w.writeArray(stringTable) { try $0.writeString($1) }
        try w.write(additionalHeader)
    }
}

/// ServiceFault (Part 4 §7.36): the response to a request that failed as a whole.
public struct ServiceFault: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId.serviceFaultEncodingDefaultBinary
    public var responseHeader: ResponseHeader

    public init(responseHeader: ResponseHeader) { self.responseHeader = responseHeader }

    public init(answering request: RequestHeader, at now: DateTime, _ status: StatusCode) {
        responseHeader = ResponseHeader(answering: request, at: now, result: status)
    }

    public init(from r: inout BinaryReader) throws { responseHeader = try r.read() }
    public func encode(to w: inout BinaryWriter) throws { try w.write(responseHeader) }
}

extension NodeId {
    /// The null NodeId: numeric 0 in namespace 0.
    public static let null = NodeId(numeric: 0)
    public var isNull: Bool {
        guard namespaceIndex == 0 else { return false }
        switch identifier {
        case .numeric(let v): return v == 0
        case .string(let s): return s.isEmpty
        case .opaque(let b): return b.isEmpty
        case .guid(let g): return g == Guid(data1: 0, data2: 0, data3: 0, data4: 0)
        }
    }
}

extension ExtensionObject {
    /// No structure: the null NodeId with no body.
    public static let null = ExtensionObject(typeId: .null, body: .none)

    /// The body decoded as `T` when `typeId` is `T`'s binary encoding; nil otherwise.
    public func decodeBody<T: OPCUABinaryCodable>(_ type: T.Type, encodingId: NodeId, limits: DecodingLimits) throws -> T? {
        guard typeId == encodingId, case .binary(let bytes) = body else { return nil }
        return try T.decode(ByteBuffer(bytes: bytes), limits: limits)
    }
}

/// MessageSecurityMode (Part 4 §7.20).
public enum MessageSecurityMode: Int32, Hashable, Sendable {
    case invalid = 0, none = 1, sign = 2, signAndEncrypt = 3
}

/// SecurityTokenRequestType (Part 4 §5.5.2.2): a first token, or a renewal on an open channel.
public enum SecurityTokenRequestType: Int32, Hashable, Sendable {
    case issue = 0, renew = 1
}

/// Reads an enumeration encoded as Int32, refusing values outside it.
func readEnum<E: RawRepresentable>(_ what: String, _ type: E.Type, from r: inout BinaryReader) throws -> E where E.RawValue == Int32 {
    let at = r.offset
    let raw = try r.readInteger(what, as: Int32.self)
    guard let value = E(rawValue: raw) else { throw r.invalid(what, at: at, "unknown value \(raw)") }
    return value
}

/// ChannelSecurityToken (Part 4 §5.5.2.2).
public struct ChannelSecurityToken: Hashable, Sendable {
    public var channelId: UInt32
    public var tokenId: UInt32
    public var createdAt: DateTime
    /// Milliseconds.
    public var revisedLifetime: UInt32

    public init(channelId: UInt32, tokenId: UInt32, createdAt: DateTime, revisedLifetime: UInt32) {
        self.channelId = channelId
        self.tokenId = tokenId
        self.createdAt = createdAt
        self.revisedLifetime = revisedLifetime
    }
}

extension ChannelSecurityToken: OPCUABinaryCodable {
    public init(from r: inout BinaryReader) throws {
        channelId = try r.readInteger("ChannelId")
        tokenId = try r.readInteger("TokenId")
        createdAt = try r.read()
        revisedLifetime = try r.readInteger("RevisedLifetime")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(channelId)
        w.writeInteger(tokenId)
        try w.write(createdAt)
        w.writeInteger(revisedLifetime)
    }
}

/// OpenSecureChannelRequest (Part 4 §5.5.2.2).
public struct OpenSecureChannelRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId.openSecureChannelRequestEncodingDefaultBinary
    public var requestHeader: RequestHeader
    public var clientProtocolVersion: UInt32
    public var requestType: SecurityTokenRequestType
    public var securityMode: MessageSecurityMode
    public var clientNonce: [UInt8]?
    /// Milliseconds.
    public var requestedLifetime: UInt32

    public init(requestHeader: RequestHeader, clientProtocolVersion: UInt32 = 0, requestType: SecurityTokenRequestType,
                securityMode: MessageSecurityMode, clientNonce: [UInt8]?, requestedLifetime: UInt32) {
        self.requestHeader = requestHeader
        self.clientProtocolVersion = clientProtocolVersion
        self.requestType = requestType
        self.securityMode = securityMode
        self.clientNonce = clientNonce
        self.requestedLifetime = requestedLifetime
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        clientProtocolVersion = try r.readInteger("ClientProtocolVersion")
        requestType = try readEnum("RequestType", SecurityTokenRequestType.self, from: &r)
        securityMode = try readEnum("SecurityMode", MessageSecurityMode.self, from: &r)
        clientNonce = try r.readByteString("ClientNonce")
        requestedLifetime = try r.readInteger("RequestedLifetime")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(clientProtocolVersion)
        w.writeInteger(requestType.rawValue)
        w.writeInteger(securityMode.rawValue)
        try w.writeByteString(clientNonce)
        w.writeInteger(requestedLifetime)
    }
}

/// OpenSecureChannelResponse (Part 4 §5.5.2.2).
public struct OpenSecureChannelResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId.openSecureChannelResponseEncodingDefaultBinary
    public var responseHeader: ResponseHeader
    public var serverProtocolVersion: UInt32
    public var securityToken: ChannelSecurityToken
    public var serverNonce: [UInt8]?

    public init(responseHeader: ResponseHeader, serverProtocolVersion: UInt32 = 0, securityToken: ChannelSecurityToken, serverNonce: [UInt8]?) {
        self.responseHeader = responseHeader
        self.serverProtocolVersion = serverProtocolVersion
        self.securityToken = securityToken
        self.serverNonce = serverNonce
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        serverProtocolVersion = try r.readInteger("ServerProtocolVersion")
        securityToken = try r.read()
        serverNonce = try r.readByteString("ServerNonce")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        w.writeInteger(serverProtocolVersion)
        try w.write(securityToken)
        try w.writeByteString(serverNonce)
    }
}

/// CloseSecureChannelRequest (Part 4 §5.5.3.2). It has no response: the server closes.
public struct CloseSecureChannelRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 452)
    public var requestHeader: RequestHeader

    public init(requestHeader: RequestHeader) { self.requestHeader = requestHeader }
    public init(from r: inout BinaryReader) throws { requestHeader = try r.read() }
    public func encode(to w: inout BinaryWriter) throws { try w.write(requestHeader) }
}

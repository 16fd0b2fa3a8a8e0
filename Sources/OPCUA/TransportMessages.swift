import NIOCore

/// The three-letter message types of UA-TCP (Part 6 §7.1.2.2) and of the secure conversation
/// messages it carries (§6.7.2.2).
public enum MessageType: String, Hashable, Sendable, CaseIterable {
    case hello = "HEL", acknowledge = "ACK", error = "ERR", reverseHello = "RHE"
    case openSecureChannel = "OPN", message = "MSG", closeSecureChannel = "CLO"

    /// OPN, MSG and CLO carry a secure channel id after the header and may span several chunks.
    public var isSecureConversation: Bool {
        switch self {
        case .openSecureChannel, .message, .closeSecureChannel: return true
        case .hello, .acknowledge, .error, .reverseHello: return false
        }
    }

    var bytes: [UInt8] { Array(rawValue.utf8) }
}

/// The fourth header byte: whether more chunks of the message follow.
public enum ChunkType: UInt8, Hashable, Sendable {
    case final = 0x46         // "F"
    case intermediate = 0x43  // "C"
    case abort = 0x41         // "A"
}

/// A failure of the transport: the status code goes into the Error message sent before closing.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: StatusCode
    public var reason: String

    public init(_ status: StatusCode, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }
}

/// The 8-byte header of every UA-TCP message chunk (Part 6 §7.1.2.2).
public struct MessageHeader: Hashable, Sendable {
    public static let size = 8

    public var messageType: MessageType
    public var chunkType: ChunkType
    /// The whole chunk, header included.
    public var messageSize: UInt32

    public init(messageType: MessageType, chunkType: ChunkType = .final, messageSize: UInt32) {
        self.messageType = messageType
        self.chunkType = chunkType
        self.messageSize = messageSize
    }

    /// Reads a header without trusting it: unknown types and chunk types that the message type
    /// does not allow are BadTcpMessageTypeInvalid.
    public static func read(from reader: inout BinaryReader) throws -> MessageHeader {
        let typeBytes = try reader.readBytes(count: 3, "message type")
        guard let type = MessageType(rawValue: String(decoding: typeBytes, as: UTF8.self)) else {
            throw TransportError(.badTcpMessageTypeInvalid, "unknown message type \(typeBytes)")
        }
        let chunkByte = try reader.readInteger("chunk type", as: UInt8.self)
        guard let chunk = ChunkType(rawValue: chunkByte), chunk == .final || type.isSecureConversation else {
            throw TransportError(.badTcpMessageTypeInvalid, "chunk type \(chunkByte) on a \(type.rawValue) message")
        }
        let size = try reader.readInteger("message size", as: UInt32.self)
        return MessageHeader(messageType: type, chunkType: chunk, messageSize: size)
    }

    public func write(to writer: inout BinaryWriter) {
        writer.buffer.writeBytes(messageType.bytes)
        writer.writeInteger(chunkType.rawValue)
        writer.writeInteger(messageSize)
    }
}

/// Every chunk is at least this large (Part 6 §7.1.2.3): a smaller receive buffer cannot work.
public let minimumBufferSize: UInt32 = 8192
/// Part 6 §7.1.2.3: the EndpointUrl of a Hello is at most 4096 bytes; the same bound serves the
/// Error reason and the Reverse Hello URIs.
public let maximumTransportStringLength = 4096

private func readTransportString(_ what: String, from reader: inout BinaryReader) throws -> String? {
    let at = reader.offset
    let length = try reader.readInteger("length of \(what)", as: Int32.self)
    if length == -1 { return nil }
    guard length >= 0, Int(length) <= maximumTransportStringLength else {
        throw OPCUADecodeError.limitExceeded(what: what, offset: at, length: Int(length), limit: maximumTransportStringLength)
    }
    let bytes = try reader.readBytes(count: Int(length), what)
    guard let string = String(validating: bytes, as: UTF8.self) else {
        throw OPCUADecodeError.invalidValue(what: what, offset: at, reason: "not well-formed UTF-8")
    }
    return string
}

/// Hello (Part 6 §7.1.2.3): the client's protocol version, buffer sizes and limits.
public struct Hello: Hashable, Sendable {
    public var protocolVersion: UInt32
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    /// 0: no limit.
    public var maxMessageSize: UInt32
    /// 0: no limit.
    public var maxChunkCount: UInt32
    public var endpointURL: String?

    public init(protocolVersion: UInt32 = 0, receiveBufferSize: UInt32, sendBufferSize: UInt32, maxMessageSize: UInt32,
                maxChunkCount: UInt32, endpointURL: String?) {
        self.protocolVersion = protocolVersion
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
        self.endpointURL = endpointURL
    }
}

/// Acknowledge (Part 6 §7.1.2.4): the server's answer to Hello, the limits that now apply.
public struct Acknowledge: Hashable, Sendable {
    public var protocolVersion: UInt32
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32

    public init(protocolVersion: UInt32 = 0, receiveBufferSize: UInt32, sendBufferSize: UInt32, maxMessageSize: UInt32, maxChunkCount: UInt32) {
        self.protocolVersion = protocolVersion
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
    }
}

/// Error (Part 6 §7.1.2.5): sent before the connection closes.
public struct ErrorMessage: Hashable, Sendable {
    public var error: StatusCode
    public var reason: String?

    public init(error: StatusCode, reason: String?) {
        self.error = error
        self.reason = reason
    }
}

/// ReverseHello (Part 6 §7.1.2.6): a server behind a firewall dials the client.
public struct ReverseHello: Hashable, Sendable {
    public var serverURI: String?
    public var endpointURL: String?

    public init(serverURI: String?, endpointURL: String?) {
        self.serverURI = serverURI
        self.endpointURL = endpointURL
    }
}

/// The single-chunk messages of the UA-TCP connection itself, before and beside the secure channel.
public enum TransportMessage: Hashable, Sendable {
    case hello(Hello)
    case acknowledge(Acknowledge)
    case error(ErrorMessage)
    case reverseHello(ReverseHello)

    public var messageType: MessageType {
        switch self {
        case .hello: return .hello
        case .acknowledge: return .acknowledge
        case .error: return .error
        case .reverseHello: return .reverseHello
        }
    }

    /// Decodes the body (after the 8-byte header) of a message of `type`.
    public static func decode(_ type: MessageType, body: ByteBuffer) throws -> TransportMessage {
        var r = BinaryReader(body)
        let message: TransportMessage
        switch type {
        case .hello:
            message = .hello(Hello(protocolVersion: try r.readInteger("protocol version"), receiveBufferSize: try r.readInteger("receive buffer size"),
                                   sendBufferSize: try r.readInteger("send buffer size"), maxMessageSize: try r.readInteger("max message size"),
                                   maxChunkCount: try r.readInteger("max chunk count"), endpointURL: try readTransportString("endpoint URL", from: &r)))
        case .acknowledge:
            message = .acknowledge(Acknowledge(protocolVersion: try r.readInteger("protocol version"),
                                               receiveBufferSize: try r.readInteger("receive buffer size"),
                                               sendBufferSize: try r.readInteger("send buffer size"), maxMessageSize: try r.readInteger("max message size"),
                                               maxChunkCount: try r.readInteger("max chunk count")))
        case .error:
            message = .error(ErrorMessage(error: try r.read(), reason: try readTransportString("error reason", from: &r)))
        case .reverseHello:
            message = .reverseHello(ReverseHello(serverURI: try readTransportString("server URI", from: &r),
                                                 endpointURL: try readTransportString("endpoint URL", from: &r)))
        case .openSecureChannel, .message, .closeSecureChannel:
            throw TransportError(.badTcpMessageTypeInvalid, "\(type.rawValue) is not a transport message")
        }
        try r.expectEnd(type.rawValue)
        return message
    }

    /// The whole message, header included.
    public func encoded() throws -> ByteBuffer {
        var body = BinaryWriter()
        switch self {
        case .hello(let h):
            for v in [h.protocolVersion, h.receiveBufferSize, h.sendBufferSize, h.maxMessageSize, h.maxChunkCount] { body.writeInteger(v) }
            try body.writeString(h.endpointURL)
        case .acknowledge(let a):
            for v in [a.protocolVersion, a.receiveBufferSize, a.sendBufferSize, a.maxMessageSize, a.maxChunkCount] { body.writeInteger(v) }
        case .error(let e):
            try body.write(e.error)
            try body.writeString(e.reason)
        case .reverseHello(let r):
            try body.writeString(r.serverURI)
            try body.writeString(r.endpointURL)
        }
        var out = BinaryWriter()
        MessageHeader(messageType: messageType, messageSize: UInt32(MessageHeader.size + body.buffer.readableBytes)).write(to: &out)
        out.buffer.writeImmutableBuffer(body.buffer)
        return out.buffer
    }
}

/// What this server accepts, before any client has said what it wants.
public struct TransportLimits: Hashable, Sendable {
    public var protocolVersion: UInt32
    public var receiveBufferSize: UInt32
    public var sendBufferSize: UInt32
    /// The largest request we reassemble; 0: no limit.
    public var maxMessageSize: UInt32
    /// The most chunks per request; 0: no limit.
    public var maxChunkCount: UInt32

    public init(protocolVersion: UInt32 = 0, receiveBufferSize: UInt32 = 65_535, sendBufferSize: UInt32 = 65_535,
                maxMessageSize: UInt32 = 16 << 20, maxChunkCount: UInt32 = 512) {
        self.protocolVersion = protocolVersion
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
    }
}

/// The outcome of a Hello: the Acknowledge to send and the limits both directions now obey.
public struct HelloNegotiation: Hashable, Sendable {
    public var acknowledge: Acknowledge
    /// Limits on what we receive (the assembler's) and on what we send (the splitter's).
    public var receive: ChunkLimits
    public var send: ChunkLimits

    /// Applies Part 6 §7.1.2.3–4: each side's chunks fit the other's buffer, neither buffer is
    /// below 8192 bytes, the version is one both speak. Throws the status for the Error message.
    public init(ours: TransportLimits, hello: Hello) throws {
        if let url = hello.endpointURL, url.utf8.count > maximumTransportStringLength {
            throw TransportError(.badTcpEndpointUrlInvalid, "endpoint URL longer than \(maximumTransportStringLength) bytes")
        }
        guard hello.protocolVersion >= ours.protocolVersion else {
            throw TransportError(.badProtocolVersionUnsupported,
                                 "client speaks UA-TCP version \(hello.protocolVersion), we need at least \(ours.protocolVersion)")
        }
        // Our receive buffer must not exceed what the client will send, and the reverse.
        let receiveBufferSize = min(ours.receiveBufferSize, hello.sendBufferSize)
        let sendBufferSize = min(ours.sendBufferSize, hello.receiveBufferSize)
        guard receiveBufferSize >= minimumBufferSize, sendBufferSize >= minimumBufferSize else {
            throw TransportError(.badTcpMessageTooLarge,
                                 "buffer sizes \(hello.receiveBufferSize)/\(hello.sendBufferSize) below the minimum \(minimumBufferSize)")
        }
        acknowledge = Acknowledge(protocolVersion: ours.protocolVersion, receiveBufferSize: receiveBufferSize,
                                  sendBufferSize: sendBufferSize, maxMessageSize: ours.maxMessageSize, maxChunkCount: ours.maxChunkCount)
        receive = ChunkLimits(bufferSize: receiveBufferSize, maxMessageSize: ours.maxMessageSize, maxChunkCount: ours.maxChunkCount)
        send = ChunkLimits(bufferSize: sendBufferSize, maxMessageSize: hello.maxMessageSize, maxChunkCount: hello.maxChunkCount)
    }
}

/// The limits on one direction of a connection. Zero for message size or chunk count: no limit.
public struct ChunkLimits: Hashable, Sendable {
    /// The largest chunk, header included.
    public var bufferSize: UInt32
    public var maxMessageSize: UInt32
    public var maxChunkCount: UInt32

    public init(bufferSize: UInt32, maxMessageSize: UInt32, maxChunkCount: UInt32) {
        self.bufferSize = bufferSize
        self.maxMessageSize = maxMessageSize
        self.maxChunkCount = maxChunkCount
    }

    /// Before Hello is negotiated: only a Hello of the minimum buffer size is accepted.
    public static let beforeHello = ChunkLimits(bufferSize: minimumBufferSize, maxMessageSize: minimumBufferSize, maxChunkCount: 1)
}

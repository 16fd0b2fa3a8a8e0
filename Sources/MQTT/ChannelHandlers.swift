import NIOCore

/// `ByteToMessageDecoder` over ``MQTTPacketCodec/decode(from:version:maximumPacketSize:)``.
public struct MQTTPacketDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = MQTTPacket

    public var version: MQTTProtocolVersion
    public var maximumPacketSize: Int

    public init(version: MQTTProtocolVersion, maximumPacketSize: Int = mqttMaxVariableByteInteger + 5) {
        self.version = version
        self.maximumPacketSize = maximumPacketSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try MQTTPacketCodec.decode(from: &buffer, version: version, maximumPacketSize: maximumPacketSize) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// `MessageToByteEncoder` over ``MQTTPacketCodec/encode(_:version:into:maximumPacketSize:)``.
public struct MQTTPacketEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = MQTTPacket

    public var version: MQTTProtocolVersion

    public init(version: MQTTProtocolVersion) { self.version = version }

    public func encode(data: MQTTPacket, out: inout ByteBuffer) throws {
        try MQTTPacketCodec.encode(data, version: version, into: &out)
    }
}

/// Back-pressure to the socket: holds the channel's `read()` while the client's inbound queue is
/// full, so the kernel buffer fills and TCP flow control slows the broker down. Sits above TLS,
/// whose handshake reads must pass.
final class MQTTReadGate: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = Any

    private var context: ChannelHandlerContext?
    private var paused = false
    private var readHeld = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func read(context: ChannelHandlerContext) {
        if paused { readHeld = true } else { context.read() }
    }

    /// On the channel's event loop.
    func setPaused(_ paused: Bool) {
        self.paused = paused
        if !paused, readHeld, let context {
            readHeld = false
            context.read()
        }
    }
}

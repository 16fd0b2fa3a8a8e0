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

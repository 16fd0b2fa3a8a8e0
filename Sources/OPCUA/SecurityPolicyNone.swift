import NIOCore

/// The chunk layer of SecurityPolicy None (Part 6 §6.7.2.3–4): plain security and sequence
/// headers, no padding, no signature. It numbers the chunks it seals; the assembler checks the
/// numbers of the chunks it opens.
public struct SecurityPolicyNone: ChunkSecurity {
    public static let uri = "http://opcfoundation.org/UA/SecurityPolicy#None"

    /// The token MSG and CLO chunks are sent under.
    public var tokenId: UInt32
    private var nextSequenceNumber: UInt32

    public var nonceLength: Int { 0 }

    public func acceptMode(_ mode: MessageSecurityMode, renewal: Bool) throws {
        guard mode == .none else { throw TransportError(.badSecurityModeRejected, "security mode \(mode) under SecurityPolicy None") }
    }

    public init(tokenId: UInt32 = 0, firstSequenceNumber: UInt32 = 1) {
        self.tokenId = tokenId
        self.nextSequenceNumber = firstSequenceNumber
    }

    public mutating func open(_ chunk: SecureChunk) throws -> OpenedChunk {
        var reader = BinaryReader(chunk.payload)
        var tokenId: UInt32?
        if chunk.header.messageType == .openSecureChannel {
            let policy = try reader.readString("security policy URI")
            guard policy == SecurityPolicyNone.uri else {
                throw TransportError(.badSecurityPolicyRejected, "security policy \(policy ?? "null") is not None")
            }
            _ = try reader.readByteString("sender certificate")
            _ = try reader.readByteString("receiver certificate thumbprint")
        } else {
            tokenId = try reader.readInteger("token id", as: UInt32.self)
        }
        let sequenceNumber = try reader.readInteger("sequence number", as: UInt32.self)
        let requestId = try reader.readInteger("request id", as: UInt32.self)
        return OpenedChunk(tokenId: tokenId, sequenceNumber: sequenceNumber, requestId: requestId,
                           body: try reader.readSlice(count: reader.remaining, "chunk body"))
    }

    public func maxBodySize(available: Int, type: MessageType) -> Int {
        available - securityHeaderSize(type) - 8
    }

    private func securityHeaderSize(_ type: MessageType) -> Int {
        // OPN: the policy URI and two null ByteStrings; MSG and CLO: the token id.
        type == .openSecureChannel ? 4 + SecurityPolicyNone.uri.utf8.count + 4 + 4 : 4
    }

    public mutating func seal(type: MessageType, chunkType: ChunkType, secureChannelId: UInt32, requestId: UInt32,
                              body: ByteBuffer) throws -> ByteBuffer {
        var sealed = BinaryWriter()
        sealed.writeInteger(secureChannelId)
        if type == .openSecureChannel {
            try sealed.writeString(SecurityPolicyNone.uri)
            try sealed.writeByteString(nil)
            try sealed.writeByteString(nil)
        } else {
            sealed.writeInteger(tokenId)
        }
        sealed.writeInteger(nextSequenceNumber)
        // Part 6 §6.7.2.4: wrap before UInt32.max - 1024, to 1.
        nextSequenceNumber = nextSequenceNumber > UInt32.max - 1024 ? 1 : nextSequenceNumber + 1
        sealed.writeInteger(requestId)
        sealed.buffer.writeImmutableBuffer(body)
        var chunk = BinaryWriter()
        MessageHeader(messageType: type, chunkType: chunkType, messageSize: UInt32(MessageHeader.size + sealed.buffer.readableBytes)).write(to: &chunk)
        chunk.buffer.writeImmutableBuffer(sealed.buffer)
        return chunk.buffer
    }

    // None derives no keys: a token is only its id.
    public mutating func installToken(_ tokenId: UInt32, clientNonce: [UInt8], serverNonce: [UInt8]) {}
    public mutating func sendUnder(tokenId: UInt32) { self.tokenId = tokenId }
    public mutating func retireToken(_ tokenId: UInt32) {}
}

import NIOCore

/// The chunk layer of SecurityPolicy None (Part 6 §6.7.2.3–4): plain security and sequence
/// headers, no padding, no signature. It numbers the chunks it seals and checks the numbers of
/// the chunks it opens.
public struct SecurityPolicyNone: ChunkSecurity {
    public static let uri = "http://opcfoundation.org/UA/SecurityPolicy#None"

    /// The token MSG and CLO chunks are sent under.
    public var tokenId: UInt32
    private var nextSequenceNumber: UInt32
    private var lastReceivedSequenceNumber: UInt32?

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
        try checkSequence(sequenceNumber)
        return OpenedChunk(tokenId: tokenId, sequenceNumber: sequenceNumber, requestId: requestId,
                           body: try reader.readSlice(count: reader.remaining, "chunk body"))
    }

    /// Part 6 §6.7.2.4: each number is the last plus one; the count wraps only after
    /// UInt32.max - 1024, to a number below 1024.
    private mutating func checkSequence(_ number: UInt32) throws {
        if let last = lastReceivedSequenceNumber {
            let wrapped = last > UInt32.max - 1024 && number < 1024
            guard number == last &+ 1 || wrapped else {
                throw TransportError(.badSequenceNumberInvalid, "sequence number \(number) after \(last)")
            }
        }
        lastReceivedSequenceNumber = number
    }

    public func maxBodySize(available: Int, type: MessageType) -> Int {
        available - securityHeaderSize(type) - 8
    }

    private func securityHeaderSize(_ type: MessageType) -> Int {
        // OPN: the policy URI and two null ByteStrings; MSG and CLO: the token id.
        type == .openSecureChannel ? 4 + SecurityPolicyNone.uri.utf8.count + 4 + 4 : 4
    }

    public mutating func seal(type: MessageType, requestId: UInt32, body: ByteBuffer, into writer: inout BinaryWriter) throws {
        if type == .openSecureChannel {
            try writer.writeString(SecurityPolicyNone.uri)
            try writer.writeByteString(nil)
            try writer.writeByteString(nil)
        } else {
            writer.writeInteger(tokenId)
        }
        writer.writeInteger(nextSequenceNumber)
        // Part 6 §6.7.2.4: wrap before UInt32.max - 1024, to 1.
        nextSequenceNumber = nextSequenceNumber > UInt32.max - 1024 ? 1 : nextSequenceNumber + 1
        writer.writeInteger(requestId)
        writer.buffer.writeImmutableBuffer(body)
    }
}

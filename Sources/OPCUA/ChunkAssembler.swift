import NIOCore

/// One received chunk of an OPN, MSG or CLO message (Part 6 §6.7.2): what follows the secure
/// channel id (security header, sequence header, body, and padding and signature when secured)
/// is left to a ``ChunkSecurity``.
public struct SecureChunk: Hashable, Sendable {
    public var header: MessageHeader
    public var secureChannelId: UInt32
    public var payload: ByteBuffer
}

/// A chunk after its security layer has checked and stripped it.
public struct OpenedChunk: Hashable, Sendable {
    /// MSG and CLO: the token the chunk was secured with; OPN has none.
    public var tokenId: UInt32?
    public var sequenceNumber: UInt32
    public var requestId: UInt32
    public var body: ByteBuffer

    public init(tokenId: UInt32?, sequenceNumber: UInt32, requestId: UInt32, body: ByteBuffer) {
        self.tokenId = tokenId
        self.sequenceNumber = sequenceNumber
        self.requestId = requestId
        self.body = body
    }
}

/// The secure channel's part in chunking: opening received chunks and sealing sent ones. The
/// security policies (``SecurityPolicyNone``, ``SecuredChunks``) implement it; ``SecureChannel``
/// drives it and keeps the policy-independent checks (channel and token ids, token lifetimes;
/// the assembler checks sequence numbers).
public protocol ChunkSecurity {
    /// Bytes of nonce each side contributes to a token's keys (0: the policy derives none).
    var nonceLength: Int { get }
    /// The mode an OpenSecureChannel request asks for: refused (BadSecurityModeRejected) unless
    /// the policy offers it; a renewal must keep the mode of the issue.
    mutating func acceptMode(_ mode: MessageSecurityMode, renewal: Bool) throws
    /// Checks and strips a chunk's security; OPN chunks are checked against the policy's URI.
    mutating func open(_ chunk: SecureChunk) throws -> OpenedChunk
    /// The most body bytes a chunk can carry in `available` bytes after its header and channel id.
    func maxBodySize(available: Int, type: MessageType) -> Int
    /// The whole chunk, header included: a signature covers the header, so the policy writes it.
    mutating func seal(type: MessageType, chunkType: ChunkType, secureChannelId: UInt32, requestId: UInt32, body: ByteBuffer) throws -> ByteBuffer
    /// A token was issued: derive its keys from the nonces. Chunks under it open from now on.
    mutating func installToken(_ tokenId: UInt32, clientNonce: [UInt8], serverNonce: [UInt8]) throws
    /// Seal MSG and CLO chunks under this (installed) token from now on.
    mutating func sendUnder(tokenId: UInt32)
    /// The token is no longer valid: its keys can go.
    mutating func retireToken(_ tokenId: UInt32)
}

/// What the assembler hands up: a transport message, a complete secure conversation message, or
/// the news that the peer abandoned one.
public enum AssembledMessage: Hashable, Sendable {
    case transport(TransportMessage)
    /// `tokenId` is nil for OPN, which carries none.
    case secure(type: MessageType, secureChannelId: UInt32, requestId: UInt32, tokenId: UInt32?, body: ByteBuffer)
    /// An abort chunk ('A'): the partial message is gone; its body carries the peer's reason.
    case aborted(requestId: UInt32, ErrorMessage?)
}

/// Turns bytes as they arrive from a socket, split anywhere, into complete messages
/// (Part 6 §6.7.2, §7.1.2), sans I/O. Each chunk is refused as soon as its header shows it too
/// large; the chunks of one request are concatenated up to the message size and chunk count
/// limits. One request is reassembled at a time: chunks of another interleaved are refused.
/// Every opened chunk's sequence number must follow the last one's, whatever the policy.
public struct ChunkAssembler {
    public var limits: ChunkLimits
    private var received = ByteBuffer()
    private var partial: Partial?
    private var lastSequenceNumber: UInt32?

    private struct Partial {
        var type: MessageType
        var secureChannelId: UInt32
        var requestId: UInt32
        var tokenId: UInt32?
        var body: ByteBuffer
        var chunkCount: Int
    }

    public init(limits: ChunkLimits = .beforeHello) { self.limits = limits }

    /// Bytes waiting for the rest of their chunk.
    public var bufferedBytes: Int { received.readableBytes + (partial?.body.readableBytes ?? 0) }

    public mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        received.writeBuffer(&bytes)
    }

    /// The next complete message, or nil until more bytes arrive. A thrown ``TransportError``
    /// (or ``OPCUADecodeError``) ends the connection: send an Error with its status and close.
    public mutating func next<Security: ChunkSecurity>(security: inout Security) throws -> AssembledMessage? {
        while let chunk = try nextChunk() {
            guard chunk.header.messageType.isSecureConversation else {
                return .transport(try TransportMessage.decode(chunk.header.messageType, body: chunk.payload))
            }
            let secure = try secureChunk(chunk)
            if let message = try assemble(secure, security: &security) { return message }
        }
        return nil
    }

    /// Splits off one whole chunk, refusing its header before its body is buffered.
    private mutating func nextChunk() throws -> (header: MessageHeader, payload: ByteBuffer)? {
        guard received.readableBytes >= MessageHeader.size else { return nil }
        var reader = BinaryReader(received.getSlice(at: received.readerIndex, length: MessageHeader.size)!)
        let header = try MessageHeader.read(from: &reader)
        guard header.messageSize <= limits.bufferSize else {
            throw TransportError(.badTcpMessageTooLarge, "chunk of \(header.messageSize) bytes exceeds the receive buffer of \(limits.bufferSize)")
        }
        let minimumSize = header.messageType.isSecureConversation ? MessageHeader.size + 4 : MessageHeader.size
        guard header.messageSize >= minimumSize else {
            throw TransportError(.badTcpMessageTypeInvalid, "\(header.messageType.rawValue) chunk of \(header.messageSize) bytes is shorter than its header")
        }
        let size = Int(header.messageSize)
        guard received.readableBytes >= size else { return nil }
        received.moveReaderIndex(forwardBy: MessageHeader.size)
        let payload = received.readSlice(length: size - MessageHeader.size)!
        received.discardReadBytes()
        return (header, payload)
    }

    private func secureChunk(_ chunk: (header: MessageHeader, payload: ByteBuffer)) throws -> SecureChunk {
        var reader = BinaryReader(chunk.payload)
        let channelId = try reader.readInteger("secure channel id", as: UInt32.self)
        return SecureChunk(header: chunk.header, secureChannelId: channelId, payload: try reader.readSlice(count: reader.remaining, "chunk payload"))
    }

    private mutating func assemble<Security: ChunkSecurity>(_ chunk: SecureChunk, security: inout Security) throws -> AssembledMessage? {
        let opened = try security.open(chunk)
        try checkSequence(opened.sequenceNumber)
        if let p = partial, p.requestId != opened.requestId || p.type != chunk.header.messageType {
            throw TransportError(.badTcpMessageTypeInvalid,
                                 "chunk of request \(opened.requestId) interleaved with the chunks of request \(p.requestId)")
        }
        if let p = partial, p.tokenId != opened.tokenId {
            throw TransportError(.badSecureChannelTokenUnknown, "the chunks of request \(opened.requestId) change token")
        }
        if chunk.header.chunkType == .abort {
            partial = nil
            // The reason is only informative: a malformed one does not change what happens.
            let reason = try? ErrorMessage(abortBody: opened.body)
            return .aborted(requestId: opened.requestId, reason)
        }
        var p = partial ?? Partial(type: chunk.header.messageType, secureChannelId: chunk.secureChannelId,
                                   requestId: opened.requestId, tokenId: opened.tokenId, body: ByteBuffer(), chunkCount: 0)
        p.chunkCount += 1
        if limits.maxChunkCount != 0 && p.chunkCount > limits.maxChunkCount {
            partial = nil
            throw TransportError(.badRequestTooLarge, "request \(opened.requestId) has more than \(limits.maxChunkCount) chunks")
        }
        var body = opened.body
        if limits.maxMessageSize != 0 && p.body.readableBytes + body.readableBytes > limits.maxMessageSize {
            partial = nil
            throw TransportError(.badRequestTooLarge, "request \(opened.requestId) exceeds the maximum message size \(limits.maxMessageSize)")
        }
        p.body.writeBuffer(&body)
        guard chunk.header.chunkType == .final else {
            partial = p
            return nil
        }
        partial = nil
        return .secure(type: p.type, secureChannelId: p.secureChannelId, requestId: p.requestId, tokenId: p.tokenId, body: p.body)
    }

    /// Part 6 §6.7.2.4: each number is the last plus one; the count wraps only after
    /// UInt32.max - 1024, to a number below 1024.
    private mutating func checkSequence(_ number: UInt32) throws {
        if let last = lastSequenceNumber {
            let wrapped = last > UInt32.max - 1024 && number < 1024
            guard number == last &+ 1 || wrapped else {
                throw TransportError(.badSequenceNumberInvalid, "sequence number \(number) after \(last)")
            }
        }
        lastSequenceNumber = number
    }
}

extension ErrorMessage {
    /// The body of an abort chunk (Part 6 §6.7.3): a StatusCode and a reason.
    init(abortBody: ByteBuffer) throws {
        var reader = BinaryReader(abortBody)
        self.init(error: try reader.read(), reason: try reader.readString("abort reason"))
    }
}

/// Splits a message body into chunks no larger than the peer's receive buffer (Part 6 §6.7.2),
/// checking the peer's maximum message size and chunk count first.
public func splitIntoChunks<Security: ChunkSecurity>(type: MessageType, secureChannelId: UInt32, requestId: UInt32, body: ByteBuffer,
                                                     limits: ChunkLimits, security: inout Security) throws -> [ByteBuffer] {
    let headerSize = MessageHeader.size + 4
    let perChunk = security.maxBodySize(available: Int(limits.bufferSize) - headerSize, type: type)
    guard perChunk > 0 else { throw TransportError(.badTcpInternalError, "a chunk of \(limits.bufferSize) bytes has no room for a body") }
    if limits.maxMessageSize != 0 && body.readableBytes > limits.maxMessageSize {
        throw TransportError(.badResponseTooLarge, "\(body.readableBytes) bytes exceed the peer's maximum message size \(limits.maxMessageSize)")
    }
    let count = max(1, (body.readableBytes + perChunk - 1) / perChunk)
    if limits.maxChunkCount != 0 && count > limits.maxChunkCount {
        throw TransportError(.badResponseTooLarge, "\(count) chunks exceed the peer's maximum chunk count \(limits.maxChunkCount)")
    }
    var rest = body
    var chunks: [ByteBuffer] = []
    chunks.reserveCapacity(count)
    for index in 0..<count {
        let part = rest.readSlice(length: min(perChunk, rest.readableBytes))!
        let chunkType: ChunkType = index == count - 1 ? .final : .intermediate
        chunks.append(try security.seal(type: type, chunkType: chunkType, secureChannelId: secureChannelId, requestId: requestId, body: part))
    }
    return chunks
}

import NIOCore

/// The chunk layer of Basic256Sha256 and Aes128_Sha256_RsaOaep (Part 6 §6.7.2–6.7.5), sans I/O.
///
/// OPN chunks carry the asymmetric security header (policy URI, sender certificate, receiver
/// thumbprint) and are signed with the sender's RSA key and encrypted with the receiver's, in
/// Sign mode too. MSG and CLO chunks carry a token id and are signed with HMAC-SHA256 under the
/// token's keys, and in SignAndEncrypt also padded and encrypted with AES-CBC. Every signature
/// covers the chunk from its first header byte, so the header's size is that of the chunk as
/// sent. A chunk whose signature, padding or keys do not check out is BadSecurityChecksFailed.
public struct SecuredChunks: ChunkSecurity {
    public let policy: SecurityPolicy
    public private(set) var mode: MessageSecurityMode = .invalid
    private let identity: ServerIdentity
    private let offeredModes: Set<MessageSecurityMode>
    /// Decides whether a client certificate is trusted; nil means yes, a status means refused.
    private let trust: @Sendable (PeerCertificate) -> TransportError?
    /// The client, from its first OPN chunk on; a renewal must come from the same certificate.
    public private(set) var peer: PeerCertificate?
    private var keys: [UInt32: (client: SymmetricKeys, server: SymmetricKeys)] = [:]
    private var sendTokenId: UInt32 = 0
    private var nextSequenceNumber: UInt32

    public init(policy: SecurityPolicy, identity: ServerIdentity, offeredModes: Set<MessageSecurityMode>,
                trust: @escaping @Sendable (PeerCertificate) -> TransportError?, firstSequenceNumber: UInt32 = 1) {
        precondition(policy != .none, "SecurityPolicyNone has its own chunk layer")
        self.policy = policy
        self.identity = identity
        self.offeredModes = offeredModes
        self.trust = trust
        self.nextSequenceNumber = firstSequenceNumber
    }

    public var nonceLength: Int { SecurityPolicy.nonceLength }

    public mutating func acceptMode(_ requested: MessageSecurityMode, renewal: Bool) throws {
        if renewal {
            guard requested == mode else { throw TransportError(.badSecurityModeRejected, "a renewal changes the security mode") }
            return
        }
        guard requested == .sign || requested == .signAndEncrypt, offeredModes.contains(requested) else {
            throw TransportError(.badSecurityModeRejected, "security mode \(requested) is not offered under \(policy.uri)")
        }
        mode = requested
    }

    // MARK: Opening

    public mutating func open(_ chunk: SecureChunk) throws -> OpenedChunk {
        chunk.header.messageType == .openSecureChannel ? try openAsymmetric(chunk) : try openSymmetric(chunk)
    }

    /// The bytes a signature covers up to the end of the security header: message header and
    /// secure channel id, then `securityHeader`.
    private func prefix(_ chunk: SecureChunk, securityHeaderBytes: Int) -> [UInt8] {
        var w = BinaryWriter()
        chunk.header.write(to: &w)
        w.writeInteger(chunk.secureChannelId)
        var bytes = Array(w.buffer.readableBytesView)
        bytes += chunk.payload.getBytes(at: chunk.payload.readerIndex, length: securityHeaderBytes) ?? []
        return bytes
    }

    private mutating func openAsymmetric(_ chunk: SecureChunk) throws -> OpenedChunk {
        var reader = BinaryReader(chunk.payload)
        let uri = try reader.readString("security policy URI")
        guard uri == policy.uri else {
            throw TransportError(.badSecurityPolicyRejected, "security policy \(uri ?? "null") on a channel of \(policy.uri)")
        }
        guard let senderChain = try reader.readByteString("sender certificate"), !senderChain.isEmpty else {
            throw securityFailure("an OPN chunk of \(policy.uri) without the sender's certificate", .badCertificateInvalid)
        }
        let receiver = try reader.readByteString("receiver certificate thumbprint")
        guard receiver == identity.thumbprint else {
            throw securityFailure("the OPN chunk is not encrypted for this server's certificate", .badCertificateInvalid)
        }
        let sender = try PeerCertificate(chain: senderChain)
        if let peer, peer != sender {
            throw securityFailure("a renewal from another certificate than the channel's", .badCertificateInvalid)
        }
        let headerBytes = reader.offset
        let plain = try identity.decrypt(try reader.readBytes(count: reader.remaining, "encrypted OPN chunk"))
        let signatureLength = sender.keyBytes
        guard plain.count >= 8 + 1 + signatureLength else { throw securityFailure("the OPN chunk is too short for its signature") }
        let signed = Array(plain[..<(plain.count - signatureLength)])
        guard sender.verify(Array(plain[(plain.count - signatureLength)...]), over: prefix(chunk, securityHeaderBytes: headerBytes) + signed) else {
            throw securityFailure("the OPN chunk's signature does not verify with the sender's certificate")
        }
        // Trust is asked only of a certificate whose holder signed the chunk, so no one can fill
        // the rejected folder with certificates they do not hold.
        if peer == nil {
            if let refusal = trust(sender) { throw refusal }
            peer = sender
        }
        // The client encrypted for our key: an extra padding byte only above 2048 bits.
        let body = try stripPadding(signed, extraByte: identity.keyBytes > 256)
        return try openedChunk(tokenId: nil, body)
    }

    private mutating func openSymmetric(_ chunk: SecureChunk) throws -> OpenedChunk {
        var reader = BinaryReader(chunk.payload)
        let tokenId = try reader.readInteger("token id", as: UInt32.self)
        guard let tokenKeys = keys[tokenId]?.client else {
            throw TransportError(.badSecureChannelTokenUnknown, "token \(tokenId) is not valid on this channel")
        }
        var rest = try reader.readBytes(count: reader.remaining, "secured chunk")
        if mode == .signAndEncrypt {
            guard !rest.isEmpty, rest.count % SecurityPolicy.blockSize == 0 else {
                throw securityFailure("\(rest.count) encrypted bytes are not whole AES blocks")
            }
            rest = try tokenKeys.decrypt(rest)
        }
        let signatureLength = SecurityPolicy.symmetricSignatureLength
        guard rest.count >= 8 + signatureLength else { throw securityFailure("the chunk is too short for its signature") }
        let signed = Array(rest[..<(rest.count - signatureLength)])
        guard tokenKeys.verify(Array(rest[(rest.count - signatureLength)...]), over: prefix(chunk, securityHeaderBytes: 4) + signed) else {
            throw securityFailure("the chunk's signature does not verify under token \(tokenId)")
        }
        let body = mode == .signAndEncrypt ? try stripPadding(signed, extraByte: false) : signed
        return try openedChunk(tokenId: tokenId, body)
    }

    /// Part 6 §6.7.2.5: PaddingSize, that many bytes of its value, and (keys above 2048 bits)
    /// ExtraPaddingSize, the high byte of the size.
    private func stripPadding(_ bytes: [UInt8], extraByte: Bool) throws -> [UInt8] {
        var end = bytes.count
        var size = 0
        if extraByte {
            guard end >= 1 else { throw securityFailure("no padding") }
            size = Int(bytes[end - 1]) << 8
            end -= 1
        }
        guard end >= 1 else { throw securityFailure("no padding") }
        let low = bytes[end - 1]
        size |= Int(low)
        guard end - 1 - size >= 8 else { throw securityFailure("padding of \(size) bytes exceeds the chunk") }
        for b in bytes[(end - 1 - size)..<(end - 1)] where b != low { throw securityFailure("malformed padding") }
        return Array(bytes[..<(end - 1 - size)])
    }

    private func openedChunk(tokenId: UInt32?, _ plain: [UInt8]) throws -> OpenedChunk {
        var reader = BinaryReader(ByteBuffer(bytes: plain))
        let sequenceNumber = try reader.readInteger("sequence number", as: UInt32.self)
        let requestId = try reader.readInteger("request id", as: UInt32.self)
        return OpenedChunk(tokenId: tokenId, sequenceNumber: sequenceNumber, requestId: requestId,
                           body: try reader.readSlice(count: reader.remaining, "chunk body"))
    }

    // MARK: Sealing

    private var asymmetricHeaderSize: Int {
        4 + policy.uri.utf8.count + 4 + identity.certificate.count + 4 + (peer?.thumbprint.count ?? 20)
    }

    public func maxBodySize(available: Int, type: MessageType) -> Int {
        if type == .openSecureChannel {
            guard let peer else { return 0 }
            let cipherBlock = peer.keyBytes
            let plainBlock = cipherBlock - SecurityPolicy.oaepOverhead
            let blocks = (available - asymmetricHeaderSize) / cipherBlock
            return blocks * plainBlock - 8 - identity.keyBytes - 1 - (cipherBlock > 256 ? 1 : 0)
        }
        let room = available - 4
        if mode == .signAndEncrypt {
            return (room / SecurityPolicy.blockSize) * SecurityPolicy.blockSize - 8 - SecurityPolicy.symmetricSignatureLength - 1
        }
        return room - 8 - SecurityPolicy.symmetricSignatureLength
    }

    /// The padding that makes `count` bytes plus the signature whole blocks.
    private func padding(count: Int, signatureLength: Int, block: Int, extraByte: Bool) -> [UInt8] {
        let sizeBytes = extraByte ? 2 : 1
        let size = (block - (count + sizeBytes + signatureLength) % block) % block
        var out = [UInt8](repeating: UInt8(size & 0xff), count: size + 1)
        if extraByte { out.append(UInt8(size >> 8)) }
        return out
    }

    public mutating func seal(type: MessageType, chunkType: ChunkType, secureChannelId: UInt32, requestId: UInt32,
                              body: ByteBuffer) throws -> ByteBuffer {
        var securityHeader = BinaryWriter()
        var plain = BinaryWriter()
        plain.writeInteger(nextSequenceNumber)
        // Part 6 §6.7.2.4: wrap before UInt32.max - 1024, to 1.
        nextSequenceNumber = nextSequenceNumber > UInt32.max - 1024 ? 1 : nextSequenceNumber + 1
        plain.writeInteger(requestId)
        plain.buffer.writeImmutableBuffer(body)
        var plainBytes = Array(plain.buffer.readableBytesView)
        let encryptedSize: Int
        let signatureLength: Int
        if type == .openSecureChannel {
            guard let peer else { throw TransportError(.badTcpInternalError, "an OPN response before the client's certificate") }
            try securityHeader.writeString(policy.uri)
            try securityHeader.writeByteString(identity.certificate)
            try securityHeader.writeByteString(peer.thumbprint)
            let plainBlock = peer.keyBytes - SecurityPolicy.oaepOverhead
            signatureLength = identity.keyBytes
            plainBytes += padding(count: plainBytes.count, signatureLength: signatureLength, block: plainBlock, extraByte: peer.keyBytes > 256)
            encryptedSize = (plainBytes.count + signatureLength) / plainBlock * peer.keyBytes
        } else {
            securityHeader.writeInteger(sendTokenId)
            signatureLength = SecurityPolicy.symmetricSignatureLength
            if mode == .signAndEncrypt {
                plainBytes += padding(count: plainBytes.count, signatureLength: signatureLength, block: SecurityPolicy.blockSize, extraByte: false)
            }
            encryptedSize = plainBytes.count + signatureLength
        }
        var chunk = BinaryWriter()
        let size = MessageHeader.size + 4 + securityHeader.buffer.readableBytes + encryptedSize
        MessageHeader(messageType: type, chunkType: chunkType, messageSize: UInt32(size)).write(to: &chunk)
        chunk.writeInteger(secureChannelId)
        chunk.buffer.writeImmutableBuffer(securityHeader.buffer)
        let signedPart = Array(chunk.buffer.readableBytesView) + plainBytes
        if type == .openSecureChannel, let peer {
            let signature = try identity.sign(signedPart)
            chunk.buffer.writeBytes(try peer.encrypt(plainBytes + signature))
        } else {
            guard let serverKeys = keys[sendTokenId]?.server else {
                throw TransportError(.badTcpInternalError, "no keys for token \(sendTokenId)")
            }
            let secured = plainBytes + serverKeys.sign(signedPart)
            chunk.buffer.writeBytes(mode == .signAndEncrypt ? try serverKeys.encrypt(secured) : secured)
        }
        return chunk.buffer
    }

    // MARK: Tokens

    public mutating func installToken(_ tokenId: UInt32, clientNonce: [UInt8], serverNonce: [UInt8]) throws {
        keys[tokenId] = (client: SymmetricKeys(policy: policy, secret: serverNonce, seed: clientNonce),
                         server: SymmetricKeys(policy: policy, secret: clientNonce, seed: serverNonce))
    }

    public mutating func sendUnder(tokenId: UInt32) { sendTokenId = tokenId }
    public mutating func retireToken(_ tokenId: UInt32) { keys[tokenId] = nil }
}

/// The policies and modes a server offers, its identity, and its trust in client certificates.
public struct SecurityOffer: Sendable {
    /// The secured policies and, for each, the modes offered; None is always open for discovery.
    public var secured: [SecurityPolicy: Set<MessageSecurityMode>]
    public var identity: ServerIdentity?
    public var trust: @Sendable (PeerCertificate) -> TransportError?

    public init(secured: [SecurityPolicy: Set<MessageSecurityMode>] = [:], identity: ServerIdentity? = nil,
                trust: @escaping @Sendable (PeerCertificate) -> TransportError? = { _ in TransportError(.badSecurityChecksFailed, "no client is trusted") }) {
        self.secured = secured.filter { $0.key != .none && !$0.value.isEmpty }
        self.identity = identity
        self.trust = trust
    }
}

/// The policy a server's channel settles on with the client's first OPN chunk: None (always,
/// so a client can discover the endpoints; ``ServerCore`` refuses sessions on it unless None is
/// configured) or one of the offered secured policies.
public struct ServerChunkSecurity: ChunkSecurity {
    private enum Active {
        case undecided
        case none(SecurityPolicyNone)
        case secured(SecuredChunks)
    }

    private let offer: SecurityOffer
    private var active = Active.undecided

    public init(offer: SecurityOffer) { self.offer = offer }

    /// What the session layer needs to know of the channel.
    public var context: ChannelSecurity {
        switch active {
        case .undecided, .none: return ChannelSecurity()
        case .secured(let s): return ChannelSecurity(policy: s.policy, mode: s.mode, clientCertificate: s.peer)
        }
    }

    public var nonceLength: Int {
        if case .secured(let s) = active { return s.nonceLength }
        return 0
    }

    public mutating func acceptMode(_ mode: MessageSecurityMode, renewal: Bool) throws {
        switch active {
        case .undecided: throw TransportError(.badTcpInternalError, "no policy before the first OPN chunk")
        case .none(let n): try n.acceptMode(mode, renewal: renewal)
        case .secured(var s):
            try s.acceptMode(mode, renewal: renewal)
            active = .secured(s)
        }
    }

    public mutating func open(_ chunk: SecureChunk) throws -> OpenedChunk {
        if case .undecided = active {
            guard chunk.header.messageType == .openSecureChannel else {
                throw TransportError(.badTcpMessageTypeInvalid, "\(chunk.header.messageType.rawValue) before OpenSecureChannel")
            }
            var reader = BinaryReader(chunk.payload)
            let uri = try reader.readString("security policy URI")
            guard let policy = uri.flatMap(SecurityPolicy.init(rawValue:)) else {
                throw TransportError(.badSecurityPolicyRejected, "security policy \(uri ?? "null") is not one of this server's")
            }
            if policy == .none {
                active = .none(SecurityPolicyNone())
            } else {
                guard let modes = offer.secured[policy], let identity = offer.identity else {
                    throw TransportError(.badSecurityPolicyRejected, "security policy \(policy.uri) is not offered")
                }
                active = .secured(SecuredChunks(policy: policy, identity: identity, offeredModes: modes, trust: offer.trust))
            }
        }
        switch active {
        case .undecided: preconditionFailure("decided above")
        case .none(var n):
            defer { active = .none(n) }
            return try n.open(chunk)
        case .secured(var s):
            defer { active = .secured(s) }
            return try s.open(chunk)
        }
    }

    public func maxBodySize(available: Int, type: MessageType) -> Int {
        switch active {
        case .undecided: return 0
        case .none(let n): return n.maxBodySize(available: available, type: type)
        case .secured(let s): return s.maxBodySize(available: available, type: type)
        }
    }

    public mutating func seal(type: MessageType, chunkType: ChunkType, secureChannelId: UInt32, requestId: UInt32,
                              body: ByteBuffer) throws -> ByteBuffer {
        switch active {
        case .undecided: throw TransportError(.badTcpInternalError, "nothing to send before OpenSecureChannel")
        case .none(var n):
            defer { active = .none(n) }
            return try n.seal(type: type, chunkType: chunkType, secureChannelId: secureChannelId, requestId: requestId, body: body)
        case .secured(var s):
            defer { active = .secured(s) }
            return try s.seal(type: type, chunkType: chunkType, secureChannelId: secureChannelId, requestId: requestId, body: body)
        }
    }

    public mutating func installToken(_ tokenId: UInt32, clientNonce: [UInt8], serverNonce: [UInt8]) throws {
        switch active {
        case .undecided: break
        case .none: break
        case .secured(var s):
            try s.installToken(tokenId, clientNonce: clientNonce, serverNonce: serverNonce)
            active = .secured(s)
        }
    }

    public mutating func sendUnder(tokenId: UInt32) {
        switch active {
        case .undecided: break
        case .none(var n):
            n.sendUnder(tokenId: tokenId)
            active = .none(n)
        case .secured(var s):
            s.sendUnder(tokenId: tokenId)
            active = .secured(s)
        }
    }

    public mutating func retireToken(_ tokenId: UInt32) {
        if case .secured(var s) = active {
            s.retireToken(tokenId)
            active = .secured(s)
        }
    }
}

/// The security of the channel a request came on, as the session layer sees it.
public struct ChannelSecurity: Hashable, Sendable {
    public var policy: SecurityPolicy
    public var mode: MessageSecurityMode
    public var clientCertificate: PeerCertificate?

    public init(policy: SecurityPolicy = .none, mode: MessageSecurityMode = .none, clientCertificate: PeerCertificate? = nil) {
        self.policy = policy
        self.mode = mode
        self.clientCertificate = clientCertificate
    }
}

import Crypto
import Foundation
import NIOCore
import Testing
import _CryptoExtras
@testable import OPCUA

/// A key and a self-signed certificate, made once per test run (RSA key generation is slow).
struct TestKeyPair: @unchecked Sendable {
    let key: _RSA.Signing.PrivateKey
    let decryptionKey: _RSA.Encryption.PrivateKey
    let certificate: [UInt8]

    init(uri: String) throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        decryptionKey = try _RSA.Encryption.PrivateKey(derRepresentation: key.derRepresentation)
        certificate = try PKIDirectory.selfSigned(key: key, applicationUri: uri, hosts: ["127.0.0.1"])
    }

    static let server = try! TestKeyPair(uri: "urn:millwright:test")
    static let client = try! TestKeyPair(uri: "urn:test:client")
    static let stranger = try! TestKeyPair(uri: "urn:test:stranger")

    var identity: ServerIdentity { try! ServerIdentity(certificate: certificate, privateKey: key) }
}

/// The client's side of Basic256Sha256 / Aes128_Sha256_RsaOaep written out by hand, byte by
/// byte from Part 6 §6.7.2, independently of ``SecuredChunks``: it seals what it sends and opens
/// what the server answers, one chunk at a time.
struct SecuredTestClient {
    let policy: SecurityPolicy
    let mode: MessageSecurityMode
    let me: TestKeyPair
    let server: PeerCertificate
    var channelId: UInt32 = 0
    var tokenId: UInt32 = 0
    var sequence: UInt32 = 1
    var clientNonce = (0..<32).map { _ in UInt8.random(in: 0...255) }
    var keys: (mine: SymmetricKeys, theirs: SymmetricKeys)?

    init(policy: SecurityPolicy, mode: MessageSecurityMode, me: TestKeyPair = .client, server: TestKeyPair = .server) throws {
        self.policy = policy
        self.mode = mode
        self.me = me
        self.server = try PeerCertificate(chain: server.certificate)
    }

    private static func header(_ type: String, size: Int, channelId: UInt32) -> [UInt8] {
        Array(type.utf8) + [0x46] + withUnsafeBytes(of: UInt32(size).littleEndian, Array.init) + withUnsafeBytes(of: channelId.littleEndian, Array.init)
    }

    private mutating func sequenceHeader(_ requestId: UInt32) -> [UInt8] {
        defer { sequence += 1 }
        return withUnsafeBytes(of: sequence.littleEndian, Array.init) + withUnsafeBytes(of: requestId.littleEndian, Array.init)
    }

    /// One final OPN chunk: signed with our key, encrypted with the server's.
    mutating func open(_ type: SecurityTokenRequestType, requestId: UInt32, lifetime: UInt32 = 60_000) throws -> ByteBuffer {
        let request = OpenSecureChannelRequest(requestHeader: RequestHeader(requestHandle: 1), requestType: type, securityMode: mode,
                                               clientNonce: clientNonce, requestedLifetime: lifetime)
        var security = BinaryWriter()
        try security.writeString(policy.uri)
        try security.writeByteString(me.certificate)
        try security.writeByteString(server.thumbprint)
        let securityBytes = Array(security.buffer.readableBytesView)
        var plain = sequenceHeader(requestId) + Array(try request.encodedMessage().readableBytesView)
        let plainBlock = 256 - 42
        let padding = (plainBlock - (plain.count + 1 + 256) % plainBlock) % plainBlock
        plain += [UInt8](repeating: UInt8(padding), count: padding + 1)
        let size = 12 + securityBytes.count + (plain.count + 256) / plainBlock * 256
        let signedPart = Self.header("OPN", size: size, channelId: channelId) + securityBytes + plain
        let signature = Array(try me.key.signature(for: signedPart, padding: .insecurePKCS1v1_5).rawRepresentation)
        return ByteBuffer(bytes: Self.header("OPN", size: size, channelId: channelId) + securityBytes + (try server.encrypt(plain + signature)))
    }

    /// One final MSG (or CLO) chunk under the current token.
    mutating func message(_ body: [UInt8], requestId: UInt32, type: String = "MSG") throws -> ByteBuffer {
        let keys = try #require(keys)
        let security = withUnsafeBytes(of: tokenId.littleEndian, Array.init)
        var plain = sequenceHeader(requestId) + body
        if mode == .signAndEncrypt {
            let padding = (16 - (plain.count + 1 + 32) % 16) % 16
            plain += [UInt8](repeating: UInt8(padding), count: padding + 1)
        }
        let size = 12 + 4 + plain.count + 32
        let prefix = Self.header(type, size: size, channelId: channelId) + security
        let signature = Array(HMAC<SHA256>.authenticationCode(for: prefix + plain, using: SymmetricKey(data: keys.mine.signingKey)))
        let secured = mode == .signAndEncrypt ? try keys.mine.encrypt(plain + signature) : plain + signature
        return ByteBuffer(bytes: prefix + secured)
    }

    /// Opens one chunk the server sent, checking its signature; returns its type and body.
    mutating func read(_ chunk: ByteBuffer) throws -> (type: String, body: [UInt8]) {
        let bytes = Array(chunk.readableBytesView)
        let type = String(decoding: bytes[0..<3], as: UTF8.self)
        #expect(Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24 == bytes.count)
        var reader = BinaryReader(ByteBuffer(bytes: bytes[12...]))
        var plain: [UInt8]
        let signatureLength: Int
        let verified: Bool
        if type == "OPN" {
            #expect(try reader.readString("uri") == policy.uri)
            #expect(try reader.readByteString("cert") == Array(server.der))
            #expect(try reader.readByteString("thumbprint") == Array(Insecure.SHA1.hash(data: me.certificate)))
            let headerEnd = 12 + reader.offset
            let encrypted = try reader.readBytes(count: reader.remaining, "encrypted")
            plain = []
            for start in stride(from: 0, to: encrypted.count, by: 256) {
                plain += try me.decryptionKey.decrypt(encrypted[start..<start + 256], padding: .PKCS1_OAEP)
            }
            signatureLength = 256
            verified = server.verify(Array(plain.suffix(256)), over: Array(bytes[..<headerEnd]) + plain.dropLast(256))
        } else {
            let keys = try #require(keys)
            #expect(try reader.readInteger("token", as: UInt32.self) == tokenId)
            let rest = try reader.readBytes(count: reader.remaining, "rest")
            plain = mode == .signAndEncrypt ? try keys.theirs.decrypt(rest) : rest
            signatureLength = 32
            let mac = HMAC<SHA256>.authenticationCode(for: Array(bytes[..<16]) + plain.dropLast(32), using: SymmetricKey(data: keys.theirs.signingKey))
            verified = Array(mac) == Array(plain.suffix(32))
        }
        #expect(verified, "the server's signature of a \(type) chunk")
        plain.removeLast(signatureLength)
        if type == "OPN" || mode == .signAndEncrypt {
            let padding = Int(try #require(plain.last))
            #expect(plain.suffix(padding + 1).allSatisfy { $0 == UInt8(padding) })
            plain.removeLast(padding + 1)
        }
        return (type, Array(plain[8...]))
    }

    /// Adopts the token of an OpenSecureChannelResponse body and derives both sides' keys.
    mutating func adopt(_ body: [UInt8]) throws -> OpenSecureChannelResponse {
        var reader = BinaryReader(ByteBuffer(bytes: body))
        #expect(try reader.read(NodeId.self) == OpenSecureChannelResponse.binaryEncodingId)
        let response: OpenSecureChannelResponse = try reader.read()
        channelId = response.securityToken.channelId
        tokenId = response.securityToken.tokenId
        let serverNonce = response.serverNonce ?? []
        keys = (mine: SymmetricKeys(policy: policy, secret: serverNonce, seed: clientNonce),
                theirs: SymmetricKeys(policy: policy, secret: clientNonce, seed: serverNonce))
        return response
    }
}

private let start = Moment(monotonic: .uptimeNanoseconds(1_000_000_000), wall: DateTime(unixNanoseconds: 1_700_000_000_000_000_000))

private func sent(_ outputs: [SecureChannel<ServerChunkSecurity>.Output]) -> [ByteBuffer] {
    outputs.compactMap { if case .send(let b) = $0 { return b } else { return nil } }
}

private func errorStatus(_ outputs: [SecureChannel<ServerChunkSecurity>.Output]) throws -> StatusCode? {
    guard outputs.last == .close else { return nil }
    for var bytes in sent(outputs) where bytes.getString(at: bytes.readerIndex, length: 3) == "ERR" {
        bytes.moveReaderIndex(forwardBy: 8)
        if case .error(let e) = try TransportMessage.decode(.error, body: bytes) { return e.error }
    }
    return nil
}

private func secureChannel(_ policy: SecurityPolicy, _ mode: MessageSecurityMode,
                           trust: @escaping @Sendable (PeerCertificate) -> TransportError? = { _ in nil }) -> SecureChannel<ServerChunkSecurity> {
    SecureChannel(channelId: 5, security: ServerChunkSecurity(offer: SecurityOffer(secured: [policy: [mode]], identity: TestKeyPair.server.identity,
                                                                                    trust: trust)))
}

private let hello = try! TransportMessage.hello(Hello(receiveBufferSize: 65_535, sendBufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0,
                                                       endpointURL: "opc.tcp://test")).encoded()

/// A channel opened by the test client under `policy` and `mode`.
private func opened(_ policy: SecurityPolicy, _ mode: MessageSecurityMode) throws -> (SecureChannel<ServerChunkSecurity>, SecuredTestClient) {
    var channel = secureChannel(policy, mode)
    var client = try SecuredTestClient(policy: policy, mode: mode)
    _ = channel.receive(hello, at: start)
    let out = sent(channel.receive(try client.open(.issue, requestId: 1), at: start))
    #expect(out.count == 1)
    let (type, body) = try client.read(try #require(out.first))
    #expect(type == "OPN")
    let response = try client.adopt(body)
    #expect(response.serverNonce?.count == 32)
    return (channel, client)
}

@Suite struct SecurityTests {
    /// The TLS 1.2 PRF test vector for SHA-256 (P_SHA256 of a 16-byte secret over "test label" and a seed).
    @Test func pSHA256MatchesTheTLSVector() {
        let secret: [UInt8] = [0x9b, 0xbe, 0x43, 0x6b, 0xa9, 0x40, 0xf0, 0x17, 0xb1, 0x76, 0x52, 0x84, 0x9a, 0x71, 0xdb, 0x35]
        let seed = Array("test label".utf8) + [0xa0, 0xba, 0x9f, 0x93, 0x6c, 0xda, 0x31, 0x18, 0x27, 0xa6, 0xf7, 0x96, 0xff, 0xd5, 0x19, 0x8c]
        let out = pSHA256(secret: secret, seed: seed, count: 100)
        #expect(out.count == 100)
        #expect(Array(out.prefix(16)) == [0xe3, 0xf2, 0x29, 0xba, 0x72, 0x7b, 0xe1, 0x7b, 0x8d, 0x12, 0x26, 0x20, 0x55, 0x7c, 0xd4, 0x53])
        #expect(Array(out.suffix(4)) == [0x87, 0x34, 0x7b, 0x66])
        let keys = SymmetricKeys(policy: .aes128Sha256RsaOaep, secret: secret, seed: seed)
        #expect(keys.signingKey == Array(out[0..<32]) && keys.encryptionKey == Array(out[32..<48]) && keys.iv == Array(out[48..<64]))
        #expect(SymmetricKeys(policy: .basic256Sha256, secret: secret, seed: seed).encryptionKey.count == 32)
    }

    @Test func rsaSignsVerifiesEncryptsAndDecrypts() throws {
        let server = TestKeyPair.server.identity
        let asPeer = try PeerCertificate(chain: TestKeyPair.server.certificate + TestKeyPair.client.certificate)
        #expect(asPeer.der == TestKeyPair.server.certificate)  // the first of a chain
        let data = Array("the data".utf8)
        let signature = try server.sign(data)
        #expect(asPeer.verify(signature, over: data))
        #expect(!asPeer.verify(signature, over: data + [0]))
        let secret = [UInt8](repeating: 7, count: 500)  // three OAEP blocks
        let encrypted = try asPeer.encrypt(secret)
        #expect(encrypted.count == 3 * 256)
        #expect(try server.decrypt(encrypted) == secret)
        var tampered = encrypted
        tampered[10] ^= 1
        #expect(throws: TransportError.self) { try server.decrypt(tampered) }
        #expect(throws: TransportError.self) { try server.decrypt(Array(encrypted.dropLast())) }
    }

    @Test(arguments: [SecurityPolicy.basic256Sha256, .aes128Sha256RsaOaep], [MessageSecurityMode.sign, .signAndEncrypt])
    func aChannelOpensCarriesRequestsAndRenews(policy: SecurityPolicy, mode: MessageSecurityMode) throws {
        var (channel, client) = try opened(policy, mode)
        #expect(channel.security.context == ChannelSecurity(policy: policy, mode: mode, clientCertificate: try PeerCertificate(chain: TestKeyPair.client.certificate)))
        let body = Array(repeating: UInt8(0xab), count: 1000)
        #expect(channel.receive(try client.message(body, requestId: 2), at: start) == [.request(requestId: 2, body: ByteBuffer(bytes: body))])
        let response = try channel.respond(to: 2, with: ByteBuffer(bytes: [1, 2, 3]))
        #expect(try client.read(try #require(response.first)) == ("MSG", [1, 2, 3]))

        // Renewal with new nonces: new keys both ways.
        let oldKeys = try #require(client.keys)
        client.clientNonce = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let renewed = sent(channel.receive(try client.open(.renew, requestId: 3), at: start))
        let (type, opnBody) = try client.read(try #require(renewed.first))
        #expect(type == "OPN")
        #expect(try client.adopt(opnBody).securityToken.tokenId == 2)
        #expect(client.keys?.mine != oldKeys.mine)
        #expect(channel.receive(try client.message([9], requestId: 4), at: start) == [.request(requestId: 4, body: ByteBuffer(bytes: [9]))])
        #expect(try client.read(try #require(try channel.respond(to: 4, with: ByteBuffer(bytes: [8])).first)) == ("MSG", [8]))
    }

    @Test func largeResponsesAreSplitIntoSecuredChunks() throws {
        var (channel, client) = try opened(.basic256Sha256, .signAndEncrypt)
        _ = channel.receive(try client.message([1], requestId: 2), at: start)
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        let chunks = try channel.respond(to: 2, with: ByteBuffer(bytes: big))
        #expect(chunks.count > 3)
        var joined: [UInt8] = []
        for chunk in chunks {
            #expect(chunk.readableBytes <= 65_535)
            joined += try client.read(chunk).body
        }
        #expect(joined == big)
    }

    @Test(arguments: [MessageSecurityMode.sign, .signAndEncrypt])
    func aTamperedChunkIsRefused(mode: MessageSecurityMode) throws {
        var (channel, client) = try opened(.aes128Sha256RsaOaep, mode)
        var bytes = Array(try client.message([1, 2, 3, 4], requestId: 2).readableBytesView)
        bytes[bytes.count - 40] ^= 0x01
        #expect(try errorStatus(channel.receive(ByteBuffer(bytes: bytes), at: start)) == .badSecurityChecksFailed)
        #expect(channel.state == .closed)
    }

    @Test func aWrongSignatureOnOpenSecureChannelIsRefused() throws {
        var channel = secureChannel(.basic256Sha256, .sign)
        // Signs with the stranger's key but sends the trusted client's certificate.
        var impostor = try SecuredTestClient(policy: .basic256Sha256, mode: .sign, me: TestKeyPair(key: TestKeyPair.stranger.key, certificate: TestKeyPair.client.certificate))
        _ = channel.receive(hello, at: start)
        #expect(try errorStatus(channel.receive(try impostor.open(.issue, requestId: 1), at: start)) == .badSecurityChecksFailed)
    }

    @Test func anUntrustedCertificateIsRefusedAfterItsSignatureChecks() throws {
        let asked = NIOLockedBox<[PeerCertificate]>([])
        var channel = secureChannel(.basic256Sha256, .signAndEncrypt) { peer in
            asked.append(peer)
            return TransportError(.badSecurityChecksFailed, "untrusted")
        }
        var client = try SecuredTestClient(policy: .basic256Sha256, mode: .signAndEncrypt, me: .stranger)
        _ = channel.receive(hello, at: start)
        #expect(try errorStatus(channel.receive(try client.open(.issue, requestId: 1), at: start)) == .badSecurityChecksFailed)
        #expect(asked.values.map(\.der) == [TestKeyPair.stranger.certificate])
    }

    @Test func aPolicyOrModeNotOfferedIsRefused() throws {
        var channel = secureChannel(.basic256Sha256, .signAndEncrypt)
        var client = try SecuredTestClient(policy: .basic256Sha256, mode: .sign)
        _ = channel.receive(hello, at: start)
        #expect(try errorStatus(channel.receive(try client.open(.issue, requestId: 1), at: start)) == .badSecurityModeRejected)
        var other = secureChannel(.basic256Sha256, .signAndEncrypt)
        var aes = try SecuredTestClient(policy: .aes128Sha256RsaOaep, mode: .signAndEncrypt)
        _ = other.receive(hello, at: start)
        #expect(try errorStatus(other.receive(try aes.open(.issue, requestId: 1), at: start)) == .badSecurityPolicyRejected)
    }
}

extension TestKeyPair {
    /// A pair whose key does not match its certificate.
    init(key: _RSA.Signing.PrivateKey, certificate: [UInt8]) {
        self.key = key
        self.decryptionKey = try! _RSA.Encryption.PrivateKey(derRepresentation: key.derRepresentation)
        self.certificate = certificate
    }
}

/// A value the trust closure can record into from a Sendable context.
final class NIOLockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func append<E>(_ e: E) where T == [E] { lock.lock(); value.append(e); lock.unlock() }
    var values: T { lock.lock(); defer { lock.unlock() }; return value }
}

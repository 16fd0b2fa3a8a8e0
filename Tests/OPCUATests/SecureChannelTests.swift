import NIOCore
import Testing
@testable import OPCUA

/// A client of SecurityPolicy None driven by hand: it writes what a real client sends and reads
/// what the channel answers, with no socket in between.
struct TestClient {
    var sender = SecurityPolicyNone()
    var receiver = ChunkAssembler(limits: ChunkLimits(bufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0))
    var receiverSecurity = SecurityPolicyNone()
    var channelId: UInt32 = 0
    var nextRequestId: UInt32 = 1
    let limits = ChunkLimits(bufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0)

    static let hello = Hello(receiveBufferSize: 65_535, sendBufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0, endpointURL: "opc.tcp://test:4840")

    func helloBytes() throws -> ByteBuffer { try TransportMessage.hello(TestClient.hello).encoded() }

    mutating func openBytes(_ type: SecurityTokenRequestType, lifetime: UInt32 = 60_000, mode: MessageSecurityMode = .none) throws -> ByteBuffer {
        let request = OpenSecureChannelRequest(requestHeader: RequestHeader(requestHandle: 1), requestType: type, securityMode: mode,
                                               clientNonce: [], requestedLifetime: lifetime)
        return try chunks(.openSecureChannel, try request.encodedMessage())
    }

    mutating func messageBytes(_ body: ByteBuffer, requestId: UInt32? = nil) throws -> ByteBuffer {
        try chunks(.message, body, requestId: requestId)
    }

    mutating func chunks(_ type: MessageType, _ body: ByteBuffer, requestId: UInt32? = nil) throws -> ByteBuffer {
        let id = requestId ?? nextRequestId
        nextRequestId += 1
        let parts = try splitIntoChunks(type: type, secureChannelId: channelId, requestId: id, body: body, limits: limits, security: &sender)
        var all = ByteBuffer()
        for var p in parts { all.writeBuffer(&p) }
        return all
    }

    /// The messages in what the channel sent.
    mutating func read(_ outputs: [SecureChannel<SecurityPolicyNone>.Output]) throws -> [AssembledMessage] {
        var messages: [AssembledMessage] = []
        for case .send(let bytes) in outputs {
            receiver.append(bytes)
            while let m = try receiver.next(security: &receiverSecurity) { messages.append(m) }
        }
        return messages
    }

    /// The token of an OpenSecureChannelResponse among `messages`; adopts its channel id.
    mutating func token(in messages: [AssembledMessage]) throws -> ChannelSecurityToken? {
        for case let .secure(.openSecureChannel, _, _, _, body) in messages {
            var reader = BinaryReader(body)
            #expect(try reader.read(NodeId.self) == OpenSecureChannelResponse.binaryEncodingId)
            let response: OpenSecureChannelResponse = try reader.read()
            channelId = response.securityToken.channelId
            return response.securityToken
        }
        return nil
    }
}

private let start = Moment(monotonic: .uptimeNanoseconds(1_000_000_000), wall: DateTime(unixNanoseconds: 1_700_000_000_000_000_000))

private func errorStatus(_ outputs: [SecureChannel<SecurityPolicyNone>.Output]) throws -> StatusCode? {
    guard outputs.last == .close else { return nil }
    for case .send(var bytes) in outputs where bytes.readableBytes >= 8 {
        if bytes.getString(at: bytes.readerIndex, length: 3) == "ERR" {
            bytes.moveReaderIndex(forwardBy: 8)
            if case .error(let e) = try TransportMessage.decode(.error, body: bytes) { return e.error }
        }
    }
    return nil
}

/// The tokens the messages were secured with.
private func tokenIds(_ messages: [AssembledMessage]) -> [UInt32?] {
    messages.map { m -> UInt32? in
        guard case .secure(_, _, _, let tokenId, _) = m else { return nil }
        return tokenId
    }
}

/// An open channel and a client on it.
private func opened(lifetime: UInt32 = 60_000) throws -> (SecureChannel<SecurityPolicyNone>, TestClient, ChannelSecurityToken) {
    var channel = SecureChannel(channelId: 9, security: SecurityPolicyNone())
    var client = TestClient()
    let ack = try client.read(channel.receive(try client.helloBytes(), at: start))
    guard case .transport(.acknowledge) = ack.first else { throw TransportError(.bad, "no ACK: \(ack)") }
    let token = try #require(try client.token(in: client.read(channel.receive(try client.openBytes(.issue, lifetime: lifetime), at: start))))
    client.sender.tokenId = token.tokenId
    return (channel, client, token)
}

@Suite struct SecureChannelTests {
    @Test func issueAnswersWithARevisedTokenAndDeliversRequests() throws {
        var (channel, client, token) = try opened(lifetime: 1)
        #expect(token.channelId == 9)
        #expect(token.tokenId == 1)
        #expect(token.revisedLifetime == 10_000)  // raised to the minimum
        #expect(token.createdAt == start.wall)
        #expect(channel.state == .open)
        let out = channel.receive(try client.messageBytes(ByteBuffer(bytes: [1, 2, 3]), requestId: 40), at: start)
        #expect(out == [.request(requestId: 40, body: ByteBuffer(bytes: [1, 2, 3]))])
        let response = try channel.respond(to: 40, with: ByteBuffer(bytes: [4]))
        let messages = try client.read(response.map { .send($0) })
        #expect(messages == [.secure(type: .message, secureChannelId: 9, requestId: 40, tokenId: 1, body: ByteBuffer(bytes: [4]))])
    }

    @Test func anExpiredTokenIsRefused() throws {
        var (channel, client, _) = try opened(lifetime: 10_000)
        let late = start.adding(milliseconds: 10_001)
        #expect(try errorStatus(channel.receive(try client.messageBytes(ByteBuffer(bytes: [1])), at: late)) == .badSecureChannelTokenUnknown)
        #expect(channel.state == .closed)
    }

    @Test func renewalKeepsTheOldTokenUntilTheNewOneIsUsed() throws {
        var (channel, client, first) = try opened(lifetime: 10_000)
        let renewAt = start.adding(milliseconds: 7_500)
        let second = try #require(try client.token(in: client.read(channel.receive(try client.openBytes(.renew, lifetime: 10_000), at: renewAt))))
        #expect(second.tokenId == 2)
        #expect(second.channelId == first.channelId)
        #expect(channel.validTokenIds == [2, 1])
        // Still under the old token: accepted, and answered under it.
        _ = channel.receive(try client.messageBytes(ByteBuffer(bytes: [1]), requestId: 50), at: renewAt)
        let underOld = try client.read(try channel.respond(to: 50, with: ByteBuffer(bytes: [1])).map { .send($0) })
        #expect(tokenIds(underOld) == [1])
        // The first message under the new token retires the old one.
        client.sender.tokenId = 2
        #expect(channel.receive(try client.messageBytes(ByteBuffer(bytes: [2]), requestId: 51), at: renewAt).count == 1)
        #expect(channel.validTokenIds == [2])
        let underNew = try client.read(try channel.respond(to: 51, with: ByteBuffer(bytes: [2])).map { .send($0) })
        #expect(tokenIds(underNew) == [2])
        client.sender.tokenId = 1
        #expect(try errorStatus(channel.receive(try client.messageBytes(ByteBuffer(bytes: [3])), at: renewAt)) == .badSecureChannelTokenUnknown)
    }

    @Test func theOldTokenExpiresOnItsOwnClock() throws {
        var (channel, client, _) = try opened(lifetime: 10_000)
        _ = try client.token(in: client.read(channel.receive(try client.openBytes(.renew, lifetime: 10_000), at: start.adding(milliseconds: 9_000))))
        // Token 1 is past its lifetime although token 2 was never used.
        #expect(try errorStatus(channel.receive(try client.messageBytes(ByteBuffer(bytes: [1])), at: start.adding(milliseconds: 10_500)))
                == .badSecureChannelTokenUnknown)
    }

    @Test func closeSecureChannelClosesWithoutAnswer() throws {
        var (channel, client, _) = try opened()
        let close = try CloseSecureChannelRequest(requestHeader: RequestHeader(requestHandle: 2)).encodedMessage()
        #expect(channel.receive(try client.chunks(.closeSecureChannel, close), at: start) == [.close])
        #expect(channel.state == .closed)
        #expect(channel.receive(try client.messageBytes(ByteBuffer(bytes: [1])), at: start) == [])
    }

    @Test func outOfOrderInputIsRefusedWithTheRightStatus() throws {
        // A message before Hello, and before OpenSecureChannel.
        var fresh = SecureChannel(channelId: 9, security: SecurityPolicyNone())
        var client = TestClient()
        #expect(try errorStatus(fresh.receive(try client.openBytes(.issue), at: start)) == .badTcpMessageTypeInvalid)
        fresh = SecureChannel(channelId: 9, security: SecurityPolicyNone())
        client = TestClient()
        _ = fresh.receive(try client.helloBytes(), at: start)
        #expect(try errorStatus(fresh.receive(try client.messageBytes(ByteBuffer(bytes: [1])), at: start)) == .badTcpMessageTypeInvalid)
        // Renew before Issue; a second Hello; Issue twice.
        fresh = SecureChannel(channelId: 9, security: SecurityPolicyNone())
        client = TestClient()
        _ = fresh.receive(try client.helloBytes(), at: start)
        #expect(try errorStatus(fresh.receive(try client.openBytes(.renew), at: start)) == .badRequestTypeInvalid)
        var (channel, opener, _) = try opened()
        #expect(try errorStatus(channel.receive(try opener.helloBytes(), at: start)) == .badTcpMessageTypeInvalid)
        (channel, opener, _) = try opened()
        opener.channelId = 0
        #expect(try errorStatus(channel.receive(try opener.openBytes(.issue), at: start)) == .badRequestTypeInvalid)
        // A mode None does not provide.
        fresh = SecureChannel(channelId: 9, security: SecurityPolicyNone())
        client = TestClient()
        _ = fresh.receive(try client.helloBytes(), at: start)
        #expect(try errorStatus(fresh.receive(try client.openBytes(.issue, mode: .signAndEncrypt), at: start)) == .badSecurityModeRejected)
    }

    @Test func wrongChannelSequenceAndRequestIdsAreRefused() throws {
        var (channel, client, _) = try opened()
        client.channelId = 8
        #expect(try errorStatus(channel.receive(try client.messageBytes(ByteBuffer(bytes: [1])), at: start)) == .badSecureChannelIdInvalid)

        (channel, client, _) = try opened()
        _ = channel.receive(try client.messageBytes(ByteBuffer(bytes: [1]), requestId: 5), at: start)
        // The same request id again while the first waits for its response.
        #expect(try errorStatus(channel.receive(try client.messageBytes(ByteBuffer(bytes: [1]), requestId: 5), at: start)) == .badRequestHeaderInvalid)

        (channel, client, _) = try opened()
        let first = try client.messageBytes(ByteBuffer(bytes: [1]))
        _ = channel.receive(first, at: start)
        // A replayed chunk: its sequence number is not the next one.
        #expect(try errorStatus(channel.receive(first, at: start)) == .badSequenceNumberInvalid)
    }

    @Test func garbageClosesWithAnErrorAndNothingElse() throws {
        var channel = SecureChannel(channelId: 9, security: SecurityPolicyNone())
        #expect(try errorStatus(channel.receive(ByteBuffer(bytes: Array("GET / HTTP/1.1\r\n\r\n".utf8)), at: start)) == .badTcpMessageTypeInvalid)
        #expect(channel.receive(ByteBuffer(bytes: [1, 2, 3]), at: start) == [])
    }
}

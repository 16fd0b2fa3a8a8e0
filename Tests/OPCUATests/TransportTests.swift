import NIOCore
import Testing
@testable import OPCUA

private let clientHello = Hello(receiveBufferSize: 65_536, sendBufferSize: 65_536, maxMessageSize: 1 << 24, maxChunkCount: 5000,
                                endpointURL: "opc.tcp://line-3:4840")
private let negotiated = ChunkLimits(bufferSize: 8192, maxMessageSize: 100_000, maxChunkCount: 16)

private func transportError(_ body: () throws -> Void) -> StatusCode? {
    do {
        try body()
        return nil
    } catch let error as TransportError {
        return error.status
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// MSG chunks of `body` as a client with SecurityPolicy None sends them.
private func messageChunks(_ body: [UInt8], requestId: UInt32 = 7, limits: ChunkLimits = negotiated,
                           security: inout SecurityPolicyNone) throws -> [ByteBuffer] {
    try splitIntoChunks(type: .message, secureChannelId: 3, requestId: requestId, body: ByteBuffer(bytes: body), limits: limits, security: &security)
}

/// Feeds `wire` to a fresh assembler in pieces cut at `cuts`, collecting what it returns.
private func assemble(_ wire: [UInt8], cuts: [Int], limits: ChunkLimits = negotiated) throws -> [AssembledMessage] {
    var assembler = ChunkAssembler(limits: limits)
    var security = SecurityPolicyNone()
    var messages: [AssembledMessage] = []
    var start = 0
    for end in cuts + [wire.count] where end >= start {
        assembler.append(ByteBuffer(bytes: wire[start..<end]))
        start = end
        while let m = try assembler.next(security: &security) { messages.append(m) }
    }
    return messages
}

private func concatenated(_ chunks: [ByteBuffer]) -> [UInt8] { chunks.flatMap { Array($0.readableBytesView) } }

@Suite struct TransportMessageTests {
    @Test func helloLayout() throws {
        let hello = Hello(receiveBufferSize: 8192, sendBufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0, endpointURL: "opc.tcp://a")
        let wire = Array(try TransportMessage.hello(hello).encoded().readableBytesView)
        // Part 6 §7.1.2.2–3: "HEL", 'F', size 43; version 0; buffers; no limits; the URL as a String.
        #expect(wire == [0x48, 0x45, 0x4C, 0x46, 0x2B, 0x00, 0x00, 0x00,
                         0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0x0B, 0x00, 0x00, 0x00] + Array("opc.tcp://a".utf8))
        #expect(try assemble(wire, cuts: []) == [.transport(.hello(hello))])
    }

    @Test func transportMessagesRoundTrip() throws {
        let messages: [TransportMessage] = [
            .hello(clientHello), .hello(Hello(receiveBufferSize: 1, sendBufferSize: 2, maxMessageSize: 3, maxChunkCount: 4, endpointURL: nil)),
            .acknowledge(Acknowledge(receiveBufferSize: 8192, sendBufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0)),
            .error(ErrorMessage(error: .badTcpMessageTooLarge, reason: "too large")),
            .reverseHello(ReverseHello(serverURI: "urn:millwright", endpointURL: "opc.tcp://gw:4840")),
        ]
        for message in messages {
            let wire = Array(try message.encoded().readableBytesView)
            #expect(try assemble(wire, cuts: []) == [.transport(message)])
        }
    }

    @Test func endpointURLOver4096BytesIsRefused() throws {
        var hello = clientHello
        hello.endpointURL = String(repeating: "a", count: 4097)
        let body = ByteBuffer(bytes: try TransportMessage.hello(hello).encoded().readableBytesView.dropFirst(MessageHeader.size))
        #expect(throws: OPCUADecodeError.self) { try TransportMessage.decode(.hello, body: body) }
        #expect(transportError { _ = try HelloNegotiation(ours: TransportLimits(), hello: hello) } == .badTcpEndpointUrlInvalid)
    }
}

@Suite struct HelloNegotiationTests {
    @Test func buffersAreTheSmallerOfBothSides() throws {
        let ours = TransportLimits(receiveBufferSize: 65_535, sendBufferSize: 32_768, maxMessageSize: 1 << 20, maxChunkCount: 64)
        let hello = Hello(receiveBufferSize: 16_384, sendBufferSize: 131_072, maxMessageSize: 0, maxChunkCount: 10, endpointURL: nil)
        let n = try HelloNegotiation(ours: ours, hello: hello)
        #expect(n.acknowledge == Acknowledge(receiveBufferSize: 65_535, sendBufferSize: 16_384, maxMessageSize: 1 << 20, maxChunkCount: 64))
        #expect(n.receive == ChunkLimits(bufferSize: 65_535, maxMessageSize: 1 << 20, maxChunkCount: 64))
        #expect(n.send == ChunkLimits(bufferSize: 16_384, maxMessageSize: 0, maxChunkCount: 10))
        // A client that sends small chunks caps our receive buffer.
        let small = try HelloNegotiation(ours: ours, hello: Hello(receiveBufferSize: 8192, sendBufferSize: 8192, maxMessageSize: 0,
                                                                   maxChunkCount: 0, endpointURL: nil))
        #expect(small.acknowledge.receiveBufferSize == 8192 && small.acknowledge.sendBufferSize == 8192)
    }

    @Test func buffersBelow8192AreRefused() {
        for (receive, send) in [(UInt32(8191), UInt32(8192)), (8192, 1024)] {
            let hello = Hello(receiveBufferSize: receive, sendBufferSize: send, maxMessageSize: 0, maxChunkCount: 0, endpointURL: nil)
            #expect(transportError { _ = try HelloNegotiation(ours: TransportLimits(), hello: hello) } == .badTcpMessageTooLarge)
        }
    }

    @Test func protocolVersions() throws {
        var newer = clientHello
        newer.protocolVersion = 7
        #expect(try HelloNegotiation(ours: TransportLimits(), hello: newer).acknowledge.protocolVersion == 0)
        #expect(transportError { _ = try HelloNegotiation(ours: TransportLimits(protocolVersion: 8), hello: newer) } == .badProtocolVersionUnsupported)
    }
}

@Suite struct ChunkAssemblerTests {
    @Test func aMessageSplitAtEveryByteReassembles() throws {
        let body = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        var sender = SecurityPolicyNone()
        let chunks = try messageChunks(body, security: &sender)
        #expect(chunks.count == 3)
        #expect(chunks.allSatisfy { $0.readableBytes <= 8192 })
        let wire = concatenated(chunks)
        let expected = AssembledMessage.secure(type: .message, secureChannelId: 3, requestId: 7, tokenId: 0, body: ByteBuffer(bytes: body))
        for cut in 0...wire.count {
            #expect(try assemble(wire, cuts: [cut]) == [expected], "cut at \(cut)")
        }
        // And fed one byte at a time.
        #expect(try assemble(wire, cuts: Array(1..<wire.count)) == [expected])
    }

    @Test func openSecureChannelChunksCarryTheAsymmetricHeader() throws {
        var sender = SecurityPolicyNone()
        let chunks = try splitIntoChunks(type: .openSecureChannel, secureChannelId: 0, requestId: 1, body: ByteBuffer(bytes: [1, 2, 3]),
                                         limits: negotiated, security: &sender)
        let wire = concatenated(chunks)
        #expect(wire.count == 12 + 4 + SecurityPolicyNone.uri.utf8.count + 8 + 8 + 3)
        let expected = AssembledMessage.secure(type: .openSecureChannel, secureChannelId: 0, requestId: 1, tokenId: nil, body: ByteBuffer(bytes: [1, 2, 3]))
        #expect(try assemble(wire, cuts: [20]) == [expected])
    }

    @Test func oversizeChunkIsRefusedFromItsHeader() {
        // Only the header of a 9000-byte chunk has arrived.
        let header: [UInt8] = Array("MSGF".utf8) + [0x28, 0x23, 0x00, 0x00]
        #expect(transportError { _ = try assemble(header, cuts: []) } == .badTcpMessageTooLarge)
        #expect(transportError { _ = try assemble(Array("HELF".utf8) + [0x00, 0x40, 0x00, 0x00], cuts: [], limits: .beforeHello) }
                == .badTcpMessageTooLarge)
    }

    @Test func oversizeMessagesAreRefused() throws {
        var sender = SecurityPolicyNone()
        let big = try messageChunks(Array(repeating: 1, count: 40_000), limits: ChunkLimits(bufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0),
                                    security: &sender)
        let bySize = ChunkLimits(bufferSize: 8192, maxMessageSize: 30_000, maxChunkCount: 0)
        #expect(transportError { _ = try assemble(concatenated(big), cuts: [], limits: bySize) } == .badRequestTooLarge)
        let byCount = ChunkLimits(bufferSize: 8192, maxMessageSize: 0, maxChunkCount: 4)
        #expect(transportError { _ = try assemble(concatenated(big), cuts: [], limits: byCount) } == .badRequestTooLarge)
        // The sending side checks the peer's limits before writing anything.
        #expect(transportError { _ = try messageChunks(Array(repeating: 1, count: 40_000), limits: bySize, security: &sender) } == .badResponseTooLarge)
        #expect(transportError { _ = try messageChunks(Array(repeating: 1, count: 40_000), limits: byCount, security: &sender) } == .badResponseTooLarge)
    }

    @Test func invalidTypesAreRefused() {
        #expect(transportError { _ = try assemble(Array("XYZF".utf8) + [8, 0, 0, 0], cuts: []) } == .badTcpMessageTypeInvalid)
        #expect(transportError { _ = try assemble(Array("MSGX".utf8) + [16, 0, 0, 0], cuts: []) } == .badTcpMessageTypeInvalid)
        // Transport messages are never chunked.
        #expect(transportError { _ = try assemble(Array("HELC".utf8) + [8, 0, 0, 0], cuts: []) } == .badTcpMessageTypeInvalid)
        // A size smaller than the header itself.
        #expect(transportError { _ = try assemble(Array("MSGF".utf8) + [11, 0, 0, 0], cuts: []) } == .badTcpMessageTypeInvalid)
    }

    @Test func abortChunkDiscardsThePartialMessage() throws {
        var sender = SecurityPolicyNone()
        let first = try messageChunks(Array(repeating: 2, count: 10_000), requestId: 7, security: &sender)[0]
        var abortBody = BinaryWriter()
        try abortBody.write(StatusCode.badRequestTooLarge)
        try abortBody.writeString("gave up")
        // Sequence numbers continue from the first chunk's 1.
        var abortSender = SecurityPolicyNone(firstSequenceNumber: 2)
        var abort = try splitIntoChunks(type: .message, secureChannelId: 3, requestId: 7, body: abortBody.buffer, limits: negotiated,
                                        security: &abortSender)[0]
        abort.setInteger(ChunkType.abort.rawValue, at: abort.readerIndex + 3)
        let next = try messageChunks([5], requestId: 8, security: &abortSender)
        let messages = try assemble(concatenated([first, abort] + next), cuts: [])
        #expect(messages == [
            .aborted(requestId: 7, ErrorMessage(error: .badRequestTooLarge, reason: "gave up")),
            .secure(type: .message, secureChannelId: 3, requestId: 8, tokenId: 0, body: ByteBuffer(bytes: [5])),
        ])
    }

    @Test func interleavedRequestsAndReplayedSequenceNumbersAreRefused() throws {
        var sender = SecurityPolicyNone()
        let a = try messageChunks(Array(repeating: 1, count: 10_000), requestId: 1, security: &sender)
        var secondSender = SecurityPolicyNone(firstSequenceNumber: 2)
        let b = try messageChunks([2], requestId: 2, security: &secondSender)
        #expect(transportError { _ = try assemble(concatenated([a[0], b[0]]), cuts: []) } == .badTcpMessageTypeInvalid)
        #expect(transportError { _ = try assemble(concatenated([b[0], b[0]]), cuts: []) } == .badSequenceNumberInvalid)
    }
}

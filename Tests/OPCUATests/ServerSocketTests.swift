import Foundation
import NIOCore
import Testing
@testable import OPCUA
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client with a receive timeout, so no read waits forever.
final class RawSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw TransportError(.badCommunicationError, "connect failed") }
    }

    deinit { close(fd) }

    func send(_ buffer: ByteBuffer) {
        let bytes = Array(buffer.readableBytesView)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// The next bytes; empty at end of stream; throws at the timeout.
    func receive() throws -> ByteBuffer {
        var bytes = [UInt8](repeating: 0, count: 65_536)
        let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw TransportError(.badTimeout, "nothing received within the timeout") }
        return ByteBuffer(bytes: bytes[..<n])
    }
}

extension TestClient {
    /// Reads from `socket` until one whole message arrives.
    mutating func next(from socket: RawSocket) throws -> AssembledMessage? {
        while true {
            if let m = try receiver.next(security: &receiverSecurity) { return m }
            let bytes = try socket.receive()
            if bytes.readableBytes == 0 { return nil }
            receiver.append(bytes)
        }
    }

    /// A service call over the socket: the response body after its type id.
    mutating func call<Response: ServiceMessage>(_ request: some ServiceMessage, _: Response.Type, on socket: RawSocket) throws -> Response {
        socket.send(try messageBytes(try request.encodedMessage()))
        guard case .secure(.message, _, _, _, let body)? = try next(from: socket) else { throw TransportError(.bad, "no response") }
        var reader = BinaryReader(body)
        let typeId: NodeId = try reader.read()
        guard typeId == Response.binaryEncodingId else { throw TransportError(.bad, "a \(typeId) instead of \(Response.self)") }
        return try reader.read()
    }
}

@Suite struct ServerSocketTests {
    @Test(.timeLimit(.minutes(1))) func malformedInputClosesOnlyItsOwnConnection() async throws {
        let core = ServerCore(description: ServerDescription(applicationUri: "urn:millwright:test", endpointUrl: ""), addressSpace: standardSpace,
                              sessionPolicy: SessionPolicy(allowAnonymous: true, users: []), startTime: Moment.now().wall)
        var limits = OPCUAServerLimits()
        limits.helloTimeout = .milliseconds(300)
        let server = OPCUAServer(core: core, limits: limits)
        let listener = try await server.start(host: "127.0.0.1", port: 0, endpointHost: "127.0.0.1")
        let port = try #require(listener.localAddress?.port)
        #expect(server.withCore { $0.description.endpointUrl } == "opc.tcp://127.0.0.1:\(port)")

        // A well-behaved client opens a channel and a session.
        let good = try RawSocket(port: port)
        var client = TestClient()
        good.send(try client.helloBytes())
        guard case .transport(.acknowledge)? = try client.next(from: good) else { Issue.record("no Acknowledge"); return }
        good.send(try client.openBytes(.issue))
        guard case .secure(.openSecureChannel, _, _, _, let opened)? = try client.next(from: good) else { Issue.record("no OPN response"); return }
        var reader = BinaryReader(opened)
        _ = try reader.read(NodeId.self)
        client.channelId = try reader.read(OpenSecureChannelResponse.self).securityToken.channelId
        client.sender.tokenId = 1
        let session = try client.call(CreateSessionRequest(
            requestHeader: RequestHeader(requestHandle: 1), clientDescription: ApplicationDescription(
                applicationUri: "urn:t", productUri: nil, applicationName: LocalizedText(text: "t"), applicationType: .client),
            endpointUrl: nil, sessionName: "s", clientNonce: nil, requestedSessionTimeout: 60_000), CreateSessionResponse.self, on: good)

        // Another connection sends HTTP: it gets an Error and is closed.
        let bad = try RawSocket(port: port)
        bad.send(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        var badClient = TestClient()
        guard case .transport(.error(let error))? = try badClient.next(from: bad) else { Issue.record("no Error message"); return }
        #expect(error.error == .badTcpMessageTypeInvalid)
        #expect(try bad.receive().readableBytes == 0)

        // A third says nothing: closed after the Hello timeout, with BadTimeout.
        let silent = try RawSocket(port: port)
        var silentClient = TestClient()
        guard case .transport(.error(let timeout))? = try silentClient.next(from: silent) else { Issue.record("no Error message"); return }
        #expect(timeout.error == .badTimeout)

        // The first carries on undisturbed.
        let header = RequestHeader(authenticationToken: session.authenticationToken, requestHandle: 2)
        _ = try client.call(ActivateSessionRequest(requestHeader: header, userIdentityToken: .null), ActivateSessionResponse.self, on: good)
        let read = try client.call(ReadRequest(requestHeader: RequestHeader(authenticationToken: session.authenticationToken, requestHandle: 3),
                                               nodesToRead: [ReadValueId(nodeId: .serverStatusState, attributeId: .value)]), ReadResponse.self, on: good)
        #expect(read.results.first?.value == .scalar(.int32(0)))
        // Stopping the server tells the connections still open.
        await server.stop()
        guard case .transport(.error(let halted))? = try client.next(from: good) else { Issue.record("no Error on stop"); return }
        #expect(halted.error == .badServerHalted)
    }
}

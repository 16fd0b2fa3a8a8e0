import Foundation
import NIOCore
import Testing
@testable import OPCUA

/// The vendored NodeSet2 files, found from this source file (tests run from the clone).
let specFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/OPCUA/Spec")

/// Loaded once: namespace 0 takes a moment to parse.
let standardSpace: AddressSpace = {
    do { return try NodeSetFiles.standardAddressSpace(in: specFolder) } catch { fatalError("\(error)") }
}()

struct Fault: Error, Equatable {
    var status: StatusCode
    var requestHandle: UInt32
}

private let now = Moment(monotonic: .uptimeNanoseconds(5_000_000_000), wall: DateTime(unixNanoseconds: 1_750_000_000_000_000_000))

/// A server core and a client's view of it, with no channel in between.
struct ServiceClient {
    var core: ServerCore
    var token: NodeId = .null
    var channelId: UInt32 = 1
    /// The security of the channel the requests come on.
    var security = ChannelSecurity()
    var handle: UInt32 = 1

    init(allowAnonymous: Bool = true, users: [UserAccount] = [UserAccount(name: "line", password: "s3cret"),
                                                             UserAccount(name: "watcher", password: "look", role: .viewer)],
         maxSessions: Int = 64, description: ServerDescription? = nil) {
        core = ServerCore(description: description ?? ServerDescription(applicationUri: "urn:millwright:test", endpointUrl: "opc.tcp://127.0.0.1:4840"),
                          addressSpace: standardSpace, sessionPolicy: SessionPolicy(allowAnonymous: allowAnonymous, users: users, maxSessions: maxSessions),
                          startTime: now.wall)
        core.addVisionSystem(camera: "CAM-07")
    }

    var header: RequestHeader { RequestHeader(authenticationToken: token, requestHandle: handle) }

    mutating func send(_ body: ByteBuffer, at moment: Moment = now) -> ByteBuffer {
        handle += 1
        return core.handle(body, channelId: channelId, security: security, at: moment).response ?? ByteBuffer()
    }

    mutating func call<Response: ServiceMessage>(_ request: some ServiceMessage, _: Response.Type, at moment: Moment = now) throws -> Response {
        var reader = BinaryReader(send(try request.encodedMessage(), at: moment))
        let typeId: NodeId = try reader.read()
        if typeId == ServiceFault.binaryEncodingId {
            let fault: ServiceFault = try reader.read()
            throw Fault(status: fault.responseHeader.serviceResult, requestHandle: fault.responseHeader.requestHandle)
        }
        #expect(typeId == Response.binaryEncodingId)
        let response: Response = try reader.read()
        try reader.expectEnd("\(Response.self)")
        return response
    }

    mutating func createSession(timeout: Double = 60_000, at moment: Moment = now) throws -> CreateSessionResponse {
        let request = CreateSessionRequest(requestHeader: header, clientDescription: ApplicationDescription(
            applicationUri: "urn:test", productUri: nil, applicationName: LocalizedText(text: "test"), applicationType: .client),
                                           endpointUrl: "opc.tcp://127.0.0.1:4840", sessionName: "s", clientNonce: Array(repeating: 1, count: 32),
                                           requestedSessionTimeout: timeout)
        let response = try call(request, CreateSessionResponse.self, at: moment)
        token = response.authenticationToken
        return response
    }

    mutating func activate(_ identity: ExtensionObject = .null) throws {
        _ = try call(ActivateSessionRequest(requestHeader: header, userIdentityToken: identity), ActivateSessionResponse.self)
    }

    mutating func login(_ user: String, _ password: String) throws {
        try activate(try ExtensionObject(binaryEncodingId: UserNameIdentityToken.binaryEncodingId,
                                         UserNameIdentityToken(policyId: SessionPolicy.userNamePolicyId, userName: user, password: Array(password.utf8))))
    }

    mutating func read(_ id: NodeId, _ attribute: AttributeId = .value) throws -> DataValue {
        try call(ReadRequest(requestHeader: header, nodesToRead: [ReadValueId(nodeId: id, attributeId: attribute)]), ReadResponse.self).results[0]
    }
}

func faultStatus(_ body: () throws -> Void) -> StatusCode? {
    do {
        try body()
        return nil
    } catch let fault as Fault {
        return fault.status
    } catch {
        Issue.record("unexpected \(error)")
        return nil
    }
}

@Suite struct ServiceFramingTests {
    @Test func serviceFaultLayout() throws {
        let header = ResponseHeader(timestamp: DateTime(ticks: 0x0102_0304_0506_0708), requestHandle: 7, serviceResult: .badServiceUnsupported)
        let bytes = Array(try ServiceFault(responseHeader: header).encodedMessage().readableBytesView)
        // Part 6 §5.2.2.9 four-byte NodeId of 397 (ServiceFault_Encoding_DefaultBinary), then Part 4 §7.34's
        // ResponseHeader: DateTime, RequestHandle, StatusCode, DiagnosticInfo (empty mask), StringTable
        // (no entries), AdditionalHeader (null NodeId, no body).
        #expect(bytes == [0x01, 0x00, 0x8D, 0x01,
                          0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
                          0x07, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x0B, 0x80,
                          0x00,
                          0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00])
    }

    @Test func requestHeaderRoundTrips() throws {
        let header = RequestHeader(authenticationToken: NodeId(namespaceIndex: 1, .opaque([1, 2, 3])), timestamp: now.wall, requestHandle: 99,
                                   returnDiagnostics: 0, auditEntryId: "audit", timeoutHint: 5000, additionalHeader: .null)
        #expect(try RequestHeader.decode(try header.encoded()) == header)
        let read = ReadRequest(requestHeader: header, nodesToRead: [ReadValueId(nodeId: .serverStatusState, attributeId: .value)])
        var reader = BinaryReader(try read.encodedMessage())
        #expect(try reader.read(NodeId.self) == NodeId(numeric: 631))
        #expect(try reader.read(ReadRequest.self) == read)
    }

    @Test func faultsCarryTheRightStatusAndTheRequestHandle() throws {
        var client = ServiceClient()
        // No session yet.
        let read = ReadRequest(requestHeader: client.header, nodesToRead: [ReadValueId(nodeId: .serverStatusState, attributeId: .value)])
        #expect(throws: Fault(status: .badSessionIdInvalid, requestHandle: 1)) { try client.call(read, ReadResponse.self) }
        _ = try client.createSession()
        #expect(faultStatus { _ = try client.read(.serverStatusState) } == .badSessionNotActivated)
        try client.activate()
        // A service this server does not offer (Call, 712): its header is still echoed.
        var call = BinaryWriter()
        try call.write(NodeId(numeric: 712))
        try call.write(RequestHeader(authenticationToken: client.token, requestHandle: 4242))
        call.writeInteger(Int32(0))
        let unsupported = client.send(call.buffer)
        var reader = BinaryReader(unsupported)
        #expect(try reader.read(NodeId.self) == ServiceFault.binaryEncodingId)
        let fault: ServiceFault = try reader.read()
        #expect(fault.responseHeader.serviceResult == .badServiceUnsupported)
        #expect(fault.responseHeader.requestHandle == 4242)
        // Too many operations, and none.
        let many = Array(repeating: ReadValueId(nodeId: .serverStatusState, attributeId: .value), count: 1001)
        #expect(faultStatus { _ = try client.call(ReadRequest(requestHeader: client.header, nodesToRead: many), ReadResponse.self) } == .badTooManyOperations)
        #expect(faultStatus { _ = try client.call(ReadRequest(requestHeader: client.header, nodesToRead: []), ReadResponse.self) } == .badNothingToDo)
        // A body cut short.
        var truncated = try read.encodedMessage()
        truncated.moveWriterIndex(to: truncated.writerIndex - 3)
        var cut = BinaryReader(client.send(truncated))
        #expect(try cut.read(NodeId.self) == ServiceFault.binaryEncodingId)
        #expect(try cut.read(ServiceFault.self).responseHeader.serviceResult == .badDecodingError)
    }
}

@Suite struct SessionServiceTests {
    @Test func anonymousOnlyWhenAllowed() throws {
        var open = ServiceClient(allowAnonymous: true)
        _ = try open.createSession()
        try open.activate()
        #expect(try open.read(.serverStatusState).value == .scalar(.int32(0)))

        var closed = ServiceClient(allowAnonymous: false)
        _ = try closed.createSession()
        #expect(faultStatus { try closed.activate() } == .badIdentityTokenRejected)
        #expect(faultStatus { try closed.activate(try ExtensionObject(binaryEncodingId: AnonymousIdentityToken.binaryEncodingId,
                                                                       AnonymousIdentityToken(policyId: "anonymous"))) } == .badIdentityTokenRejected)
        let endpoint = try #require(closed.core.endpoints.first)
        #expect(endpoint.userIdentityTokens.map(\.tokenType) == [.userName])
        #expect(endpoint.securityPolicyUri == SecurityPolicyNone.uri)
    }

    @Test func userNameLogins() throws {
        var client = ServiceClient(allowAnonymous: false)
        _ = try client.createSession()
        #expect(faultStatus { try client.login("line", "wrong") } == .badUserAccessDenied)
        #expect(faultStatus { try client.login("nobody", "s3cret") } == .badUserAccessDenied)
        try client.login("line", "s3cret")
        #expect(try client.read(.serverStatusState).status == nil)
        // An encrypted password cannot be read under None.
        let encrypted = try ExtensionObject(binaryEncodingId: UserNameIdentityToken.binaryEncodingId,
                                            UserNameIdentityToken(policyId: "username", userName: "line", password: [1, 2], encryptionAlgorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep"))
        #expect(faultStatus { try client.activate(encrypted) } == .badIdentityTokenInvalid)
    }

    @Test func sessionsBelongToTheirChannelAndExpire() throws {
        var client = ServiceClient()
        let created = try client.createSession(timeout: 1)
        #expect(created.revisedSessionTimeout == 10_000)  // raised to the minimum
        try client.activate()
        client.channelId = 2
        #expect(faultStatus { _ = try client.read(.serverStatusState) } == .badSecureChannelIdInvalid)
        client.channelId = 1
        #expect(client.core.expireSessions(at: now.adding(milliseconds: 9_000)) == 0)
        #expect(client.core.expireSessions(at: now.adding(milliseconds: 10_001)) == 1)
        #expect(faultStatus { _ = try client.read(.serverStatusState) } == .badSessionIdInvalid)
    }

    @Test func sessionLimitAndClose() throws {
        var client = ServiceClient(maxSessions: 2)
        _ = try client.createSession()
        let first = client.token
        _ = try client.createSession()
        #expect(faultStatus { _ = try client.createSession() } == .badTooManySessions)
        client.token = first
        _ = try client.call(CloseSessionRequest(requestHeader: client.header), CloseSessionResponse.self)
        #expect(faultStatus { try client.activate() } == .badSessionIdInvalid)
        _ = try client.createSession()
    }

    @Test func discovery() throws {
        var client = ServiceClient()
        let endpoints = try client.call(GetEndpointsRequest(requestHeader: client.header, endpointUrl: "opc.tcp://127.0.0.1:4840"), GetEndpointsResponse.self)
        #expect(endpoints.endpoints.count == 1)
        #expect(endpoints.endpoints[0].securityMode == .none)
        #expect(endpoints.endpoints[0].userIdentityTokens.map(\.tokenType) == [.anonymous, .userName])
        let servers = try client.call(FindServersRequest(requestHeader: client.header, endpointUrl: nil), FindServersResponse.self)
        #expect(servers.servers.map(\.applicationUri) == ["urn:millwright:test"])
        #expect(servers.servers[0].discoveryUrls == ["opc.tcp://127.0.0.1:4840"])
    }
}

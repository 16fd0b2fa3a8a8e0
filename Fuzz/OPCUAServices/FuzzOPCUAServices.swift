import NIOCore
import OPCUA

let now = Moment(monotonic: .uptimeNanoseconds(1_000_000_000), wall: DateTime(ticks: 1))

/// One server core for every input: an empty address space plus one camera, and one activated
/// anonymous session whose token (made of zero "random" bytes) the inputs below carry, so that
/// requests reach the services behind the session checks.
nonisolated(unsafe) var core: ServerCore = {
    var c = ServerCore(description: ServerDescription(applicationUri: "urn:fuzz", endpointUrl: "opc.tcp://fuzz:4840"), addressSpace: AddressSpace(),
                       sessionPolicy: SessionPolicy(allowAnonymous: true, users: [UserAccount(name: "u", password: "p")], maxSessions: 4),
                       startTime: .minimum, decodingLimits: DecodingLimits(maxStringLength: 4096, maxArrayLength: 1024, maxNestingDepth: 16),
                       randomBytes: { [UInt8](repeating: 0, count: $0) })
    c.addVisionSystem(camera: "cam")
    let create = CreateSessionRequest(requestHeader: RequestHeader(requestHandle: 1), clientDescription: ApplicationDescription(
        applicationUri: nil, productUri: nil, applicationName: LocalizedText(text: nil), applicationType: .client),
                                      endpointUrl: nil, sessionName: nil, clientNonce: nil, requestedSessionTimeout: 3_600_000)
    _ = c.handle(try! create.encodedMessage(), channelId: 1, at: now)
    _ = c.handle(try! ActivateSessionRequest(requestHeader: RequestHeader(authenticationToken: token, requestHandle: 2),
                                             userIdentityToken: .null).encodedMessage(), channelId: 1, at: now)
    return c
}()

let token = NodeId(namespaceIndex: 2, .opaque([UInt8](repeating: 0, count: 32)))

/// The requests an input's first byte picks; the rest of the input follows their header.
let services: [NodeId] = [
    GetEndpointsRequest.binaryEncodingId, FindServersRequest.binaryEncodingId, CreateSessionRequest.binaryEncodingId,
    ActivateSessionRequest.binaryEncodingId, BrowseRequest.binaryEncodingId, BrowseNextRequest.binaryEncodingId,
    TranslateBrowsePathsRequest.binaryEncodingId, ReadRequest.binaryEncodingId, WriteRequest.binaryEncodingId,
    CreateSubscriptionRequest.binaryEncodingId, ModifySubscriptionRequest.binaryEncodingId, SetPublishingModeRequest.binaryEncodingId,
    CreateMonitoredItemsRequest.binaryEncodingId, DeleteMonitoredItemsRequest.binaryEncodingId, DeleteSubscriptionsRequest.binaryEncodingId,
    PublishRequest.binaryEncodingId, RepublishRequest.binaryEncodingId,
]

/// libFuzzer entry: any bytes as a service request body and as the body of a request in a live
/// session (ServerCore.handle, then its clock), and as a UA-TCP
/// stream into a secure channel after a valid Hello and OpenSecureChannel. Neither may trap;
/// the core must answer every body. Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOPCUAServices(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    // As a whole body, and as the body of the service the first byte picks, in the session.
    var bodies = [bytes]
    if let pick = bytes.readInteger(as: UInt8.self) {
        var w = BinaryWriter()
        try? w.write(services[Int(pick) % services.count])
        try? w.write(RequestHeader(authenticationToken: token, requestHandle: 3))
        w.buffer.writeBuffer(&bytes)
        bodies.append(w.buffer)
    }
    for body in bodies {
        let answer = core.handle(body, channelId: 1, requestId: 1, at: now)
        // Only a Publish request is answered later, by tick.
        if let response = answer.response { precondition(response.readableBytes > 0, "a request body got an empty answer") }
    }
    _ = core.tick(at: now.adding(milliseconds: 200))

    bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    var channel = SecureChannel(channelId: 1, security: SecurityPolicyNone())
    var client = SecurityPolicyNone()
    let hello = Hello(receiveBufferSize: 65_535, sendBufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0, endpointURL: nil)
    let open = OpenSecureChannelRequest(requestHeader: RequestHeader(requestHandle: 1), requestType: .issue, securityMode: .none,
                                        clientNonce: nil, requestedLifetime: 60_000)
    guard let helloBytes = try? TransportMessage.hello(hello).encoded(), let body = try? open.encodedMessage(),
          let opn = try? splitIntoChunks(type: .openSecureChannel, secureChannelId: 0, requestId: 1, body: body,
                                         limits: ChunkLimits(bufferSize: 65_535, maxMessageSize: 0, maxChunkCount: 0), security: &client)
    else { return 0 }
    _ = channel.receive(helloBytes, at: now)
    for chunk in opn { _ = channel.receive(chunk, at: now) }
    for case .request(let id, _) in channel.receive(bytes, at: now) { _ = try? channel.respond(to: id, with: ByteBuffer(bytes: [0])) }
    return 0
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzOPCUAServices_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzOPCUAServices(data, size)
    }
}

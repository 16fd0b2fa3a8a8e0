import Foundation
@testable import Gateway
import Logging
import MillwrightCore
import NIOCore
@testable import OPCUA
import Store
import Testing

/// The glue between the floor events and the OPC UA server: RejectPart raised at `reject_at`,
/// not below, reset by `reject_pulse`; every detection a result.
@Suite struct OPCUABridgeTests {
    static let nodeSets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/OPCUA/Spec")
    let t = Date(timeIntervalSince1970: 1_800_000_000)

    /// A gateway whose crack detections open incidents of `priority`, and a bridge on it.
    func setUp(priority: Priority, pulse: Duration? = nil) throws -> (Gateway, OPCUABridge) {
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0", cmms: "sb")]
        s.priority = [PriorityRule(condition: .always, priority: priority)]
        var o = OPCUASettings()
        o.rejectAt = .high
        o.rejectPulse = pulse
        o.allowAnonymous = true
        s.opcua = o
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-opcua-\(UUID().uuidString)").path
        let gateway = Gateway(settings: s, store: try Store(path: dir + "/db.sqlite"), register: nil, connectors: [], logger: Logger(label: "test"))
        return (gateway, try OPCUABridge(gateway: gateway, settings: o, nodeSets: Self.nodeSets, onListening: { _ in }))
    }

    func detect(_ gateway: Gateway, _ bridge: OPCUABridge, id: String) async throws {
        let d = Detection(detectionId: id, cameraId: "CAM-0", timestamp: t, defectClass: "crack", confidence: 0.9)
        let outcome = try #require(try await gateway.store.ingest([d], rules: gateway.rules, now: t).first)
        #expect(outcome.status == .confirmed)
        await bridge.apply(.detection(outcome, d))
    }

    @Test func rejectPartRisesAtRejectAtAndNotBelow() async throws {
        let (lowGateway, low) = try setUp(priority: .medium)
        #expect(low.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
        try await detect(lowGateway, low, id: "d-low")
        #expect(low.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
        #expect(low.server.withCore { $0.results(camera: "CAM-0").count } == 1)

        let (gateway, bridge) = try setUp(priority: .high)
        try await detect(gateway, bridge, id: "d-high")
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == true)
    }

    @Test func rejectPulseResetsIt() async throws {
        let (gateway, bridge) = try setUp(priority: .critical, pulse: .milliseconds(200))
        try await detect(gateway, bridge, id: "d-1")
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == true)
        // Generous: the whole suite runs in parallel on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(60)
        while bridge.server.withCore({ $0.rejectPart(camera: "CAM-0") }) == true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(bridge.server.withCore { $0.rejectPart(camera: "CAM-0") } == false)
    }

    /// A session on the bridge's server with a subscription and an event item on Server
    /// selecting ResultId, ResultState, MeasId and Message; returns the session token.
    func subscribeToEvents(_ bridge: OPCUABridge, at now: Moment) throws -> NodeId {
        try bridge.server.withCore { core in
            func call<R: ServiceMessage>(_ request: some ServiceMessage, _: R.Type) throws -> R {
                var reader = BinaryReader(try #require(core.handle(try request.encodedMessage(), channelId: 1, at: now).response))
                #expect(try reader.read(NodeId.self) == R.binaryEncodingId)
                return try reader.read()
            }
            let created = try call(CreateSessionRequest(requestHeader: RequestHeader(requestHandle: 1), clientDescription: ApplicationDescription(
                applicationUri: "urn:test", productUri: nil, applicationName: LocalizedText(text: "t"), applicationType: .client),
                                                        endpointUrl: nil, sessionName: "s", clientNonce: nil, requestedSessionTimeout: 600_000),
                                   CreateSessionResponse.self)
            let header = RequestHeader(authenticationToken: created.authenticationToken, requestHandle: 2)
            _ = try call(ActivateSessionRequest(requestHeader: header, userIdentityToken: .null), ActivateSessionResponse.self)
            let subscription = try call(CreateSubscriptionRequest(requestHeader: header, requestedPublishingInterval: 100, requestedLifetimeCount: 300,
                                                                  requestedMaxKeepAliveCount: 100), CreateSubscriptionResponse.self)
            let mv = core.addressSpace.namespaceIndex(for: MachineVision.namespaceUri)
            let filter = EventFilter(selectClauses: [QualifiedName(namespaceIndex: mv, name: "ResultId"), QualifiedName(namespaceIndex: mv, name: "ResultState"),
                                                     QualifiedName(namespaceIndex: mv, name: "MeasId"), QualifiedName(namespaceIndex: 0, name: "Message")]
                .map { SimpleAttributeOperand(browsePath: [$0]) })
            let items = try call(CreateMonitoredItemsRequest(requestHeader: header, subscriptionId: subscription.subscriptionId, itemsToCreate: [
                MonitoredItemCreateRequest(itemToMonitor: ReadValueId(nodeId: ServerCore.serverObject, attributeId: .eventNotifier), clientHandle: 1,
                                           filter: try ExtensionObject(binaryEncodingId: EventFilter.binaryEncodingId, filter)),
            ]), CreateMonitoredItemsResponse.self)
            #expect(items.results.map(\.statusCode) == [.good])
            return created.authenticationToken
        }
    }

    /// The events the next Publish delivers.
    func publishedEvents(_ bridge: OPCUABridge, token: NodeId, at now: Moment) throws -> [[Variant]] {
        try bridge.server.withCore { core in
            #expect(core.handle(try PublishRequest(requestHeader: RequestHeader(authenticationToken: token, requestHandle: 9)).encodedMessage(),
                                channelId: 1, requestId: 9, at: now).response == nil)
            return try core.tick(at: now.adding(milliseconds: 200)).flatMap { deferred -> [[Variant]] in
                var reader = BinaryReader(deferred.response)
                #expect(try reader.read(NodeId.self) == PublishResponse.binaryEncodingId)
                let response: PublishResponse = try reader.read()
                return try response.notificationMessage.notificationData.flatMap {
                    try $0.decodeBody(EventNotificationList.self, encodingId: EventNotificationList.binaryEncodingId, limits: DecodingLimits())?.events ?? []
                }.map(\.eventFields)
            }
        }
    }

    @Test func confirmedDetectionsAndIncidentChangesAreResultReadyEvents() async throws {
        let (gateway, bridge) = try setUp(priority: .high)
        let now = Moment.now()
        let token = try subscribeToEvents(bridge, at: now)
        try await detect(gateway, bridge, id: "d-ev")
        let incidentId = try #require(try await gateway.store.detection(id: "d-ev")?.incidentId)
        let incident = try #require(try await gateway.store.incident(id: incidentId))
        let message = Variant.scalar(.localizedText(LocalizedText(locale: "en", text: "crack on A0 at CAM-0, severity \(incident.severity), high")))
        #expect(try publishedEvents(bridge, token: token, at: now) == [
            [.scalar(.string("d-ev")), .scalar(.int32(2)), .scalar(.string(incident.id)), message],
        ])
        // An incident's state changes: NOK while open, OK once closed.
        await bridge.apply(.incident(id: incident.id, camera: "CAM-0", state: "dispatched", detail: ""))
        await bridge.apply(.incident(id: incident.id, camera: "CAM-0", state: "closed", detail: ""))
        let later = now.adding(milliseconds: 1000)
        #expect(try publishedEvents(bridge, token: token, at: later).map { Array($0.prefix(3)) } == [
            [.scalar(.string("\(incident.id)/dispatched")), .scalar(.int32(2)), .scalar(.string(incident.id))],
            [.scalar(.string("\(incident.id)/closed")), .scalar(.int32(1)), .scalar(.string(incident.id))],
        ])
    }
}

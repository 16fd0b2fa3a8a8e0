import NIOCore
import Testing
@testable import OPCUA

private let start = Moment(monotonic: .uptimeNanoseconds(5_000_000_000), wall: DateTime(unixNanoseconds: 1_750_000_000_000_000_000))

private func operand<T: OPCUABinaryCodable>(_ id: UInt32, _ value: T) throws -> ExtensionObject {
    try ExtensionObject(binaryEncodingId: NodeId(numeric: id), value)
}

/// LiteralOperand and ElementOperand carry one value each.
private struct One<T: OPCUABinaryCodable>: OPCUABinaryCodable {
    var value: T
    init(_ value: T) { self.value = value }
    init(from r: inout BinaryReader) throws { value = try r.read() }
    func encode(to w: inout BinaryWriter) throws { try w.write(value) }
}

extension UInt32: OPCUABinaryCodable {
    public init(from r: inout BinaryReader) throws { self = try r.readInteger("UInt32") }
    public func encode(to w: inout BinaryWriter) throws { w.writeInteger(self) }
}

private let mv: UInt16 = 1
private let resultReady = NodeId(namespaceIndex: mv, numeric: 1024)

private func field(_ ns: UInt16, _ name: String) -> SimpleAttributeOperand {
    SimpleAttributeOperand(typeDefinitionId: resultReady, browsePath: [QualifiedName(namespaceIndex: ns, name: name)])
}

private func ofType(_ type: NodeId) throws -> ContentFilterElement {
    ContentFilterElement(filterOperator: FilterOperator.ofType.rawValue, filterOperands: [try operand(597, One(Variant.scalar(.nodeId(type))))])
}

private func event(_ id: String, nok: Bool = true) -> ResultReadyEvent {
    ResultReadyEvent(camera: "CAM-07", resultId: id, nok: nok, measId: "inc-1", partId: "PO-1", creationTime: start.wall, simulated: false,
                     content: #"{"defect_class":"crack"}"#, message: "crack on A at CAM-07, severity 90, critical", severity: 900)
}

/// The events of Publish responses: per notification, its client handle and fields.
private func events(_ deferred: [DeferredResponse]) throws -> [EventFieldList] {
    try deferred.flatMap { d -> [EventFieldList] in
        var reader = BinaryReader(d.response)
        #expect(try reader.read(NodeId.self) == PublishResponse.binaryEncodingId)
        let response: PublishResponse = try reader.read()
        return try response.notificationMessage.notificationData.flatMap { data -> [EventFieldList] in
            try data.decodeBody(EventNotificationList.self, encodingId: EventNotificationList.binaryEncodingId, limits: DecodingLimits())?.events ?? []
        }
    }
}

@Suite struct EventTests {
    /// A session with a subscription and event items made from `filters` on `nodes`.
    private func subscribed(_ items: [(NodeId, EventFilter?)]) throws -> (ServiceClient, [StatusCode]) {
        var client = ServiceClient()
        _ = try client.createSession(at: start)
        try client.activate()
        let created = try client.call(CreateSubscriptionRequest(requestHeader: client.header, requestedPublishingInterval: 100, requestedLifetimeCount: 30,
                                                                requestedMaxKeepAliveCount: 10), CreateSubscriptionResponse.self, at: start)
        let requests = try items.enumerated().map { (index, item) in
            MonitoredItemCreateRequest(itemToMonitor: ReadValueId(nodeId: item.0, attributeId: .eventNotifier), clientHandle: UInt32(index + 1),
                                       filter: try item.1.map { try ExtensionObject(binaryEncodingId: EventFilter.binaryEncodingId, $0) } ?? .null)
        }
        let results = try client.call(CreateMonitoredItemsRequest(requestHeader: client.header, subscriptionId: created.subscriptionId, itemsToCreate: requests),
                                      CreateMonitoredItemsResponse.self, at: start).results.map(\.statusCode)
        return (client, results)
    }

    private func publish(_ client: inout ServiceClient, at t: Moment) throws -> [EventFieldList] {
        _ = client.core.handle(try PublishRequest(requestHeader: client.header).encodedMessage(), channelId: 1, requestId: 50, at: t)
        return try events(client.core.tick(at: t.adding(milliseconds: 100)))
    }

    @Test func resultReadyEventsReachTheCameraAndServerWithTheSelectedFields() throws {
        let camera = NodeId(namespaceIndex: 2, .string("CAM-07"))
        let select = [field(0, "EventType"), field(0, "Message"), field(mv, "ResultId"), field(mv, "ResultState"), field(mv, "PartId"),
                      field(mv, "ResultContent"), field(mv, "Nonexistent")]
        let (initial, results) = try subscribed([
            (camera, EventFilter(selectClauses: select, whereClause: [try ofType(resultReady)])),
            (ServerCore.serverObject, EventFilter(selectClauses: [field(mv, "ResultId")])),
            // OfType a type the event is not: never matches.
            (ServerCore.serverObject, EventFilter(selectClauses: [field(mv, "ResultId")], whereClause: [try ofType(NodeId(numeric: 2782))])),
        ])
        var client = initial
        #expect(results == [.good, .good, .good])
        // The VisionSystem object notifies of events.
        #expect(try client.read(camera, .eventNotifier).value == .scalar(.byte(1)))
        client.core.raise(event("det-1"), at: start)
        let got = try publish(&client, at: start)
        #expect(got.map(\.clientHandle) == [1, 2])
        #expect(got[0].eventFields == [
            .scalar(.nodeId(resultReady)), .scalar(.localizedText(LocalizedText(locale: "en", text: "crack on A at CAM-07, severity 90, critical"))),
            .scalar(.string("det-1")), .scalar(.int32(2)), .scalar(.string("PO-1")), .array(type: .string, elements: [.string(#"{"defect_class":"crack"}"#)]),
            .null,
        ])
        #expect(got[1].eventFields == [.scalar(.string("det-1"))])
    }

    @Test func inListSelectsByEventTypeAsAsyncuaAsks() throws {
        let eventType = try operand(603, SimpleAttributeOperand(browsePath: [QualifiedName(namespaceIndex: 0, name: "EventType")]))
        func inList(_ types: [NodeId]) throws -> EventFilter {
            EventFilter(selectClauses: [field(mv, "ResultId")], whereClause: [
                ContentFilterElement(filterOperator: FilterOperator.inList.rawValue,
                                     filterOperands: [eventType] + (try types.map { try operand(597, One(Variant.scalar(.nodeId($0)))) })),
            ])
        }
        var (client, results) = try subscribed([(ServerCore.serverObject, try inList([NodeId(numeric: 2041), resultReady])),
                                                (ServerCore.serverObject, try inList([NodeId(numeric: 2041)]))])
        #expect(results == [.good, .good])
        client.core.raise(event("r"), at: start)
        #expect(try publish(&client, at: start).map(\.clientHandle) == [1])
    }

    @Test func equalsAndAndNotSelectByFieldValue() throws {
        // And(OfType ResultReadyEventType, ResultState == 2), with the literal as a UInt32.
        let state = try operand(603, field(mv, "ResultState"))
        let filter = EventFilter(selectClauses: [field(mv, "ResultId")], whereClause: [
            ContentFilterElement(filterOperator: FilterOperator.and.rawValue, filterOperands: [try operand(594, One(UInt32(1))), try operand(594, One(UInt32(2)))]),
            try ofType(resultReady),
            ContentFilterElement(filterOperator: FilterOperator.equals.rawValue, filterOperands: [state, try operand(597, One(Variant.scalar(.uInt32(2))))]),
        ])
        let notOk = EventFilter(selectClauses: [field(mv, "ResultId")], whereClause: [
            ContentFilterElement(filterOperator: FilterOperator.not.rawValue, filterOperands: [try operand(594, One(UInt32(1)))]),
            ContentFilterElement(filterOperator: FilterOperator.equals.rawValue, filterOperands: [state, try operand(597, One(Variant.scalar(.int32(2))))]),
        ])
        var (client, results) = try subscribed([(ServerCore.serverObject, filter), (ServerCore.serverObject, notOk)])
        #expect(results == [.good, .good])
        client.core.raise(event("nok"), at: start)
        client.core.raise(event("ok", nok: false), at: start)
        let got = try publish(&client, at: start)
        #expect(got.map(\.clientHandle) == [1, 2])
        #expect(got.map(\.eventFields) == [[.scalar(.string("nok"))], [.scalar(.string("ok"))]])
    }

    @Test func filtersThisServerCannotEvaluateAreRefused() throws {
        let select = [field(mv, "ResultId")]
        let like = ContentFilterElement(filterOperator: 6, filterOperands: [])  // Like
        // An element operand must point forward, or evaluation could loop.
        let backwards = ContentFilterElement(filterOperator: FilterOperator.not.rawValue, filterOperands: [try operand(594, One(UInt32(0)))])
        let tooMany = EventFilter(selectClauses: Array(repeating: field(mv, "ResultId"), count: EventSelection.maxSelectClauses + 1))
        let (_, results) = try subscribed([
            (ServerCore.serverObject, EventFilter(selectClauses: select, whereClause: [like])),
            (ServerCore.serverObject, EventFilter(selectClauses: select, whereClause: [backwards])),
            (ServerCore.serverObject, tooMany),
            (ServerCore.serverObject, nil),
            // The Objects folder does not notify of events.
            (.objectsFolder, EventFilter(selectClauses: select)),
        ])
        #expect(results == [.badFilterOperatorUnsupported, .badEventFilterInvalid, .badEventFilterInvalid, .badMonitoredItemFilterInvalid,
                            .badAttributeIdInvalid])
    }

    @Test func queuedEventsAreBounded() throws {
        var (client, _) = try subscribed([(ServerCore.serverObject, EventFilter(selectClauses: [field(mv, "ResultId")]))])
        client.core.subscriptionLimits.maxQueuedNotifications = 3
        for i in 0..<10 { client.core.raise(event("r\(i)"), at: start) }
        let got = try publish(&client, at: start)
        #expect(got.map(\.eventFields) == ["r7", "r8", "r9"].map { [.scalar(.string($0))] })
    }
}

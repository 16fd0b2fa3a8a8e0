import NIOCore
import Testing
@testable import OPCUA

private let start = Moment(monotonic: .uptimeNanoseconds(5_000_000_000), wall: DateTime(unixNanoseconds: 1_750_000_000_000_000_000))

/// The Publish responses among deferred ones, decoded.
private func publishes(_ deferred: [DeferredResponse]) throws -> [PublishResponse] {
    try deferred.map { d in
        var reader = BinaryReader(d.response)
        let typeId: NodeId = try reader.read()
        guard typeId == PublishResponse.binaryEncodingId else {
            throw Fault(status: (try? reader.read(ServiceFault.self).responseHeader.serviceResult) ?? .bad, requestHandle: 0)
        }
        return try reader.read()
    }
}

/// The Boolean values a Publish response's data changes carry.
private func values(_ response: PublishResponse) throws -> [Variant?] {
    try response.notificationMessage.notificationData.flatMap { data -> [Variant?] in
        guard let change = try data.decodeBody(DataChangeNotification.self, encodingId: DataChangeNotification.binaryEncodingId, limits: DecodingLimits())
        else { return [] }
        return change.monitoredItems.map(\.value.value)
    }
}

@Suite struct SubscriptionTests {
    /// A session with a subscription (interval 100 ms, keep-alive every 3) on RejectPart.
    private func subscribed() throws -> (ServiceClient, UInt32) {
        var client = ServiceClient()
        _ = try client.createSession(at: start)
        try client.activate()
        let created = try client.call(CreateSubscriptionRequest(requestHeader: client.header, requestedPublishingInterval: 1, requestedLifetimeCount: 9,
                                                                requestedMaxKeepAliveCount: 3), CreateSubscriptionResponse.self, at: start)
        #expect(created.revisedPublishingInterval == 100)
        let rejectPart = client.core.addVisionSystem(camera: "CAM-07")
        let items = try client.call(CreateMonitoredItemsRequest(requestHeader: client.header, subscriptionId: created.subscriptionId, itemsToCreate: [
            MonitoredItemCreateRequest(itemToMonitor: ReadValueId(nodeId: rejectPart, attributeId: .value), clientHandle: 7),
            MonitoredItemCreateRequest(itemToMonitor: ReadValueId(nodeId: .objectsFolder, attributeId: .value), clientHandle: 8),
            MonitoredItemCreateRequest(itemToMonitor: ReadValueId(nodeId: .server, attributeId: .eventNotifier), clientHandle: 9),
        ]), CreateMonitoredItemsResponse.self, at: start)
        // An event item needs an EventFilter.
        #expect(items.results.map(\.statusCode) == [.good, .badAttributeIdInvalid, .badMonitoredItemFilterInvalid])
        return (client, created.subscriptionId)
    }

    private func publish(_ client: inout ServiceClient, requestId: UInt32) throws {
        let handled = client.core.handle(try PublishRequest(requestHeader: client.header).encodedMessage(), channelId: 1, requestId: requestId, at: start)
        #expect(handled.response == nil, "a Publish request is answered later")
    }

    @Test func dataChangesAndKeepAlives() throws {
        var (client, subscription) = try subscribed()
        // Nothing is due before the first interval ends.
        try publish(&client, requestId: 10)
        #expect(client.core.tick(at: start.adding(milliseconds: 50)).isEmpty)
        // The first interval: RejectPart's current value.
        var t = start.adding(milliseconds: 100)
        let first = try publishes(client.core.tick(at: t))
        #expect(first.count == 1)
        #expect(first.first?.subscriptionId == subscription)
        #expect(try values(try #require(first.first)) == [.scalar(.boolean(false))])
        #expect(first.first?.notificationMessage.sequenceNumber == 1)

        // A change reaches the next Publish.
        try publish(&client, requestId: 11)
        client.core.setRejectPart(camera: "CAM-07", true)
        t = t.adding(milliseconds: 100)
        let second = try publishes(client.core.tick(at: t))
        #expect(try values(try #require(second.first)) == [.scalar(.boolean(true))])
        #expect(second.first?.notificationMessage.sequenceNumber == 2)

        // No change: a keep-alive after three intervals, with the next number and no data.
        try publish(&client, requestId: 12)
        for _ in 0..<2 {
            t = t.adding(milliseconds: 100)
            #expect(client.core.tick(at: t).isEmpty)
        }
        t = t.adding(milliseconds: 100)
        let keepAlive = try publishes(client.core.tick(at: t))
        #expect(keepAlive.first?.notificationMessage.notificationData.isEmpty == true)
        #expect(keepAlive.first?.notificationMessage.sequenceNumber == 3)
    }

    @Test func publishLimitsAndTheEndOfTheSession() throws {
        var client = ServiceClient()
        _ = try client.createSession(at: start)
        try client.activate()
        #expect(faultStatus { _ = try client.call(PublishRequest(requestHeader: client.header), PublishResponse.self) } == .badNoSubscription)

        var (subscribedClient, _) = try subscribed()
        for id in 0..<10 { try publish(&subscribedClient, requestId: UInt32(id)) }
        let eleventh = subscribedClient.core.handle(try PublishRequest(requestHeader: subscribedClient.header).encodedMessage(), channelId: 1,
                                                    requestId: 99, at: start)
        var reader = BinaryReader(try #require(eleventh.response))
        #expect(try reader.read(NodeId.self) == ServiceFault.binaryEncodingId)
        #expect(try reader.read(ServiceFault.self).responseHeader.serviceResult == .badTooManyPublishRequests)
        // Closing the session answers its waiting Publish requests with BadSessionClosed.
        let close = subscribedClient.core.handle(try CloseSessionRequest(requestHeader: subscribedClient.header).encodedMessage(), channelId: 1,
                                                 requestId: 100, at: start)
        #expect(close.deferred.map(\.requestId) == Array(0..<10))
        #expect(throws: Fault(status: .badSessionClosed, requestHandle: 0)) { _ = try publishes(close.deferred) }
        #expect(subscribedClient.core.tick(at: start.adding(milliseconds: 1000)).isEmpty)
    }

    @Test func aSubscriptionNobodyPublishesForRunsOutItsLifetime() throws {
        var (client, subscription) = try subscribed()
        // Lifetime 9 intervals: with no Publish request the subscription goes.
        var t = start
        for _ in 0..<9 {
            t = t.adding(milliseconds: 100)
            _ = client.core.tick(at: t)
        }
        let deleted = try client.call(DeleteSubscriptionsRequest(requestHeader: client.header, subscriptionIds: [subscription]),
                                      DeleteSubscriptionsResponse.self, at: t)
        #expect(deleted.results == [.badSubscriptionIdInvalid])
    }

    @Test func modifyPauseDeleteItemsAndRepublish() throws {
        var (client, subscription) = try subscribed()
        let modified = try client.call(ModifySubscriptionRequest(requestHeader: client.header, subscriptionId: subscription, requestedPublishingInterval: 500,
                                                                 requestedLifetimeCount: 1, requestedMaxKeepAliveCount: 2), ModifySubscriptionResponse.self, at: start)
        #expect(modified.revisedPublishingInterval == 500)
        #expect(modified.revisedLifetimeCount == 6)
        // Paused: the first message is a keep-alive, not RejectPart's value.
        let paused = try client.call(SetPublishingModeRequest(requestHeader: client.header, publishingEnabled: false, subscriptionIds: [subscription, 999]),
                                     SetPublishingModeResponse.self, at: start)
        #expect(paused.results == [.good, .badSubscriptionIdInvalid])
        try publish(&client, requestId: 20)
        let keepAlive = try publishes(client.core.tick(at: start.adding(milliseconds: 500)))
        #expect(keepAlive.count == 1)
        #expect(keepAlive.first?.notificationMessage.notificationData.isEmpty == true)
        _ = try client.call(SetPublishingModeRequest(requestHeader: client.header, publishingEnabled: true, subscriptionIds: [subscription]),
                            SetPublishingModeResponse.self, at: start)
        try publish(&client, requestId: 21)
        let resumed = try publishes(client.core.tick(at: start.adding(milliseconds: 1000)))
        #expect(try values(try #require(resumed.first)) == [.scalar(.boolean(false))])

        // The message is kept until acknowledged: Republish sends it again, then not after the acknowledgement.
        let sent = try #require(resumed.first?.notificationMessage)
        #expect(resumed.first?.availableSequenceNumbers == [sent.sequenceNumber])
        let again = try client.call(RepublishRequest(requestHeader: client.header, subscriptionId: subscription, retransmitSequenceNumber: sent.sequenceNumber),
                                    RepublishResponse.self, at: start)
        #expect(again.notificationMessage == sent)
        let acknowledging = client.core.handle(try PublishRequest(requestHeader: client.header, subscriptionAcknowledgements: [
            SubscriptionAcknowledgement(subscriptionId: subscription, sequenceNumber: sent.sequenceNumber),
            SubscriptionAcknowledgement(subscriptionId: subscription, sequenceNumber: 77),
        ]).encodedMessage(), channelId: 1, requestId: 23, at: start)
        #expect(acknowledging.response == nil)
        #expect(faultStatus { _ = try client.call(RepublishRequest(requestHeader: client.header, subscriptionId: subscription, retransmitSequenceNumber: sent.sequenceNumber),
                                                  RepublishResponse.self, at: start) } == .badMessageNotAvailable)
        // The next keep-alive (two intervals on) answers the acknowledging Publish.
        #expect(client.core.tick(at: start.adding(milliseconds: 1500)).isEmpty)
        let acknowledged = try publishes(client.core.tick(at: start.adding(milliseconds: 2000)))
        #expect(acknowledged.first?.results == [.good, .badSequenceNumberUnknown])
        #expect(faultStatus { _ = try client.call(RepublishRequest(requestHeader: client.header, subscriptionId: 999, retransmitSequenceNumber: 1),
                                                  RepublishResponse.self, at: start) } == .badSubscriptionIdInvalid)
        // ModifyMonitoredItems: a new client handle is what the next notification carries; an
        // unknown item and a deadband filter are refused item by item.
        let deadband = ExtensionObject(typeId: NodeId(numeric: 724), body: .binary([1, 0, 0, 0, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 8)))
        let changed = try client.call(ModifyMonitoredItemsRequest(requestHeader: client.header, subscriptionId: subscription, itemsToModify: [
            MonitoredItemModifyRequest(monitoredItemId: 1, clientHandle: 70, samplingInterval: 250),
            MonitoredItemModifyRequest(monitoredItemId: 99, clientHandle: 1),
            MonitoredItemModifyRequest(monitoredItemId: 1, clientHandle: 71, filter: deadband),
        ]), ModifyMonitoredItemsResponse.self, at: start)
        #expect(changed.results.map(\.statusCode) == [.good, .badMonitoredItemIdInvalid, .badMonitoredItemFilterUnsupported])
        #expect(changed.results.first?.revisedSamplingInterval == 500, "an item samples at its subscription's interval")
        #expect(faultStatus { _ = try client.call(ModifyMonitoredItemsRequest(requestHeader: client.header, subscriptionId: 999, itemsToModify: [
            MonitoredItemModifyRequest(monitoredItemId: 1, clientHandle: 1)]), ModifyMonitoredItemsResponse.self, at: start) } == .badSubscriptionIdInvalid)
        #expect(faultStatus { _ = try client.call(ModifyMonitoredItemsRequest(requestHeader: client.header, subscriptionId: subscription, itemsToModify: []),
                                                  ModifyMonitoredItemsResponse.self, at: start) } == .badNothingToDo)
        client.core.setRejectPart(camera: "CAM-07", true)
        try publish(&client, requestId: 24)
        let handled = try publishes(client.core.tick(at: start.adding(milliseconds: 2500)))
        let change = try #require(handled.first?.notificationMessage.notificationData.first)
        let data = try #require(try change.decodeBody(DataChangeNotification.self, encodingId: DataChangeNotification.binaryEncodingId,
                                                      limits: DecodingLimits()))
        #expect(data.monitoredItems.map(\.clientHandle) == [70])
        let deleted = try client.call(DeleteMonitoredItemsRequest(requestHeader: client.header, subscriptionId: subscription, monitoredItemIds: [1, 1]),
                                      DeleteMonitoredItemsResponse.self, at: start)
        #expect(deleted.results == [.good, .badMonitoredItemIdInvalid])
        // With its item gone, a change is no news.
        client.core.setRejectPart(camera: "CAM-07", false)
        try publish(&client, requestId: 22)
        #expect(client.core.tick(at: start.adding(milliseconds: 3000)).isEmpty)
    }
}

import NIOCore

/// A response the server sends later than its request's turn: a Publish answered when a
/// subscription has news or owes a keep-alive, or a queued Publish failed when its session ends.
public struct DeferredResponse: Hashable, Sendable {
    public var channelId: UInt32
    public var requestId: UInt32
    public var response: ByteBuffer
}

/// Bounds on subscriptions.
public struct SubscriptionLimits: Hashable, Sendable {
    public var maxSubscriptionsPerSession = 10
    public var maxMonitoredItemsPerSubscription = 1000
    /// Publish requests a session may have waiting.
    public var maxQueuedPublishRequests = 10
    /// Notifications held for a client that sends no Publish requests; the oldest go first.
    public var maxQueuedNotifications = 10_000
    /// Sent messages kept per subscription for Republish until acknowledged; the oldest go first.
    public var maxRetransmissionQueue = 16
    /// Milliseconds.
    public var minimumPublishingInterval: Double = 100
    public var maximumPublishingInterval: Double = 3_600_000

    public init() {}
}

/// One monitored item: a node's Value, sampled at the subscription's publishing interval and
/// reported when it (or its status) changes; or an object's EventNotifier, whose events that
/// pass the filter are reported as they are raised.
struct MonitoredItem: Sendable {
    var clientHandle: UInt32
    var nodeId: NodeId
    var timestamps: TimestampsToReturn
    /// The last value reported; nil before the first sample.
    var last: DataValue?
    /// An event item's filter; nil for a Value item.
    var events: EventSelection?
}

/// One subscription (Part 4 §5.13.1): its counters and what it has not published yet.
struct Subscription: Sendable {
    var id: UInt32
    /// The authentication token of the session that owns it.
    var session: NodeId
    var interval: Double
    var lifetimeCount: UInt32
    var maxKeepAliveCount: UInt32
    var maxNotificationsPerPublish: Int
    var publishingEnabled: Bool
    var items: [UInt32: MonitoredItem] = [:]
    var nextSequenceNumber: UInt32 = 1
    var nextPublish: NIODeadline
    var keepAliveCounter: UInt32 = 0
    var lifetimeCounter: UInt32 = 0
    /// Until the first message goes out, the first interval's end sends one (Part 4 §5.13.1.1).
    var sentFirstMessage = false
    var pending: [MonitoredItemNotification] = []
    var pendingEvents: [EventFieldList] = []
    /// Sent messages not yet acknowledged, oldest first, for Republish.
    var unacknowledged: [NotificationMessage] = []
}

/// A Publish request waiting for news.
struct QueuedPublish: Sendable {
    var channelId: UInt32
    var requestId: UInt32
    var header: RequestHeader
    var acknowledgementResults: [StatusCode]
}

extension ServerCore {
    func intervalMilliseconds(_ d: Double) -> Int64 { Int64(exactly: d.rounded(.down)) ?? 0 }  // clamped before use

    mutating func createSubscription(_ r: CreateSubscriptionRequest, session: NodeId, at now: Moment) throws -> CreateSubscriptionResponse {
        guard subscriptions.values.filter({ $0.session == session }).count < subscriptionLimits.maxSubscriptionsPerSession else {
            throw ServiceError(.badTooManySubscriptions)
        }
        let (interval, lifetime, keepAlive) = revise(interval: r.requestedPublishingInterval, lifetime: r.requestedLifetimeCount,
                                                     keepAlive: r.requestedMaxKeepAliveCount)
        let id = nextSubscriptionId
        nextSubscriptionId = nextSubscriptionId == .max ? 1 : nextSubscriptionId + 1
        subscriptions[id] = Subscription(id: id, session: session, interval: interval, lifetimeCount: lifetime, maxKeepAliveCount: keepAlive,
                                         maxNotificationsPerPublish: Int(r.maxNotificationsPerPublish), publishingEnabled: r.publishingEnabled,
                                         nextPublish: now.monotonic + .milliseconds(intervalMilliseconds(interval)))
        return CreateSubscriptionResponse(responseHeader: ResponseHeader(answering: r.requestHeader, at: now.wall), subscriptionId: id,
                                          revisedPublishingInterval: interval, revisedLifetimeCount: lifetime, revisedMaxKeepAliveCount: keepAlive)
    }

    /// A client's requested interval and counts, revised into this server's ranges.
    private func revise(interval: Double, lifetime: UInt32, keepAlive: UInt32) -> (Double, UInt32, UInt32) {
        let l = subscriptionLimits
        let revisedInterval = interval.isFinite ? min(max(interval, l.minimumPublishingInterval), l.maximumPublishingInterval) : l.minimumPublishingInterval
        let revisedKeepAlive = min(max(keepAlive, 1), 1000)
        // Part 4 §5.13.2: the lifetime is at least three keep-alive periods.
        return (revisedInterval, min(max(lifetime, revisedKeepAlive * 3), 100_000), revisedKeepAlive)
    }

    mutating func modifySubscription(_ r: ModifySubscriptionRequest, session: NodeId, at now: Moment) throws -> ModifySubscriptionResponse {
        guard var s = subscriptions[r.subscriptionId], s.session == session else { throw ServiceError(.badSubscriptionIdInvalid) }
        (s.interval, s.lifetimeCount, s.maxKeepAliveCount) = revise(interval: r.requestedPublishingInterval, lifetime: r.requestedLifetimeCount,
                                                                    keepAlive: r.requestedMaxKeepAliveCount)
        s.maxNotificationsPerPublish = Int(r.maxNotificationsPerPublish)
        s.nextPublish = now.monotonic + .milliseconds(intervalMilliseconds(s.interval))
        subscriptions[r.subscriptionId] = s
        return ModifySubscriptionResponse(responseHeader: ResponseHeader(answering: r.requestHeader, at: now.wall), revisedPublishingInterval: s.interval,
                                          revisedLifetimeCount: s.lifetimeCount, revisedMaxKeepAliveCount: s.maxKeepAliveCount)
    }

    mutating func setPublishingMode(_ enabled: Bool, _ ids: [UInt32], session: NodeId) -> [StatusCode] {
        ids.map { id in
            guard subscriptions[id]?.session == session else { return .badSubscriptionIdInvalid }
            subscriptions[id]?.publishingEnabled = enabled
            return .good
        }
    }

    mutating func deleteMonitoredItems(_ r: DeleteMonitoredItemsRequest, session: NodeId) throws -> [StatusCode] {
        guard var s = subscriptions[r.subscriptionId], s.session == session else { throw ServiceError(.badSubscriptionIdInvalid) }
        let results = r.monitoredItemIds.map { s.items.removeValue(forKey: $0) == nil ? StatusCode.badMonitoredItemIdInvalid : .good }
        subscriptions[r.subscriptionId] = s
        return results
    }

    /// Republish (Part 4 §5.13.6): a sent message not yet acknowledged, again.
    func republish(_ r: RepublishRequest, session: NodeId) throws -> NotificationMessage {
        guard let s = subscriptions[r.subscriptionId], s.session == session else { throw ServiceError(.badSubscriptionIdInvalid) }
        guard let message = s.unacknowledged.first(where: { $0.sequenceNumber == r.retransmitSequenceNumber }) else {
            throw ServiceError(.badMessageNotAvailable)
        }
        return message
    }

    mutating func createMonitoredItems(_ r: CreateMonitoredItemsRequest, session: NodeId) throws -> [MonitoredItemCreateResult] {
        guard var s = subscriptions[r.subscriptionId], s.session == session else { throw ServiceError(.badSubscriptionIdInvalid) }
        guard let timestamps = TimestampsToReturn(rawValue: r.timestampsToReturn) else { throw ServiceError(.badTimestampsToReturnInvalid) }
        var results: [MonitoredItemCreateResult] = []
        for item in r.itemsToCreate {
            guard s.items.count < subscriptionLimits.maxMonitoredItemsPerSubscription else {
                results.append(MonitoredItemCreateResult(statusCode: .badTooManyMonitoredItems))
                continue
            }
            results.append(addItem(item, timestamps: timestamps, to: &s))
        }
        subscriptions[r.subscriptionId] = s
        return results
    }

    private mutating func addItem(_ item: MonitoredItemCreateRequest, timestamps: TimestampsToReturn, to s: inout Subscription) -> MonitoredItemCreateResult {
        guard let node = addressSpace[item.itemToMonitor.nodeId] else { return MonitoredItemCreateResult(statusCode: .badNodeIdUnknown) }
        guard item.itemToMonitor.indexRange == nil || item.itemToMonitor.indexRange == "" else {
            return MonitoredItemCreateResult(statusCode: .badIndexRangeInvalid)
        }
        guard let mode = MonitoringMode(rawValue: item.monitoringMode) else { return MonitoredItemCreateResult(statusCode: .badMonitoringModeInvalid) }
        guard mode == .reporting else { return MonitoredItemCreateResult(statusCode: .badMonitoringModeInvalid) }
        if item.itemToMonitor.attributeId == AttributeId.eventNotifier.rawValue {
            return addEventItem(item, node: node, to: &s)
        }
        guard item.itemToMonitor.attributeId == AttributeId.value.rawValue, node.nodeClass == .variable else {
            return MonitoredItemCreateResult(statusCode: .badAttributeIdInvalid)
        }
        guard Self.isSupportedDataChangeFilter(item.filter) else { return MonitoredItemCreateResult(statusCode: .badMonitoredItemFilterUnsupported) }
        let id = nextMonitoredItemId
        nextMonitoredItemId = nextMonitoredItemId == .max ? 1 : nextMonitoredItemId + 1
        s.items[id] = MonitoredItem(clientHandle: item.clientHandle, nodeId: node.nodeId, timestamps: timestamps)
        return MonitoredItemCreateResult(statusCode: .good, monitoredItemId: id, revisedSamplingInterval: s.interval, revisedQueueSize: 1)
    }

    /// An item on an object that notifies of events (EventNotifier bit SubscribeToEvents), with
    /// an EventFilter this server can evaluate (Part 4 §7.22.3).
    private mutating func addEventItem(_ item: MonitoredItemCreateRequest, node: Node, to s: inout Subscription) -> MonitoredItemCreateResult {
        guard let notifier = node.eventNotifier, notifier & 1 != 0 else { return MonitoredItemCreateResult(statusCode: .badAttributeIdInvalid) }
        let selection: EventSelection
        switch eventSelection(item.filter) {
        case .success(let s): selection = s
        case .failure(let why): return MonitoredItemCreateResult(statusCode: why.status)
        }
        let id = nextMonitoredItemId
        nextMonitoredItemId = nextMonitoredItemId == .max ? 1 : nextMonitoredItemId + 1
        s.items[id] = MonitoredItem(clientHandle: item.clientHandle, nodeId: node.nodeId, timestamps: .neither, events: selection)
        // Events are not sampled: they are queued as raised, up to the subscription's bound.
        return MonitoredItemCreateResult(statusCode: .good, monitoredItemId: id, revisedSamplingInterval: 0,
                                         revisedQueueSize: UInt32(subscriptionLimits.maxQueuedNotifications))
    }

    /// No filter, or a DataChangeFilter without deadband (trigger status or status and value).
    static func isSupportedDataChangeFilter(_ filter: ExtensionObject) -> Bool {
        guard !filter.typeId.isNull else { return true }
        guard filter.typeId == NodeId(numeric: 724), case .binary(let body) = filter.body, body.count == 16 else { return false }
        return body[body.startIndex + 4..<body.startIndex + 8].allSatisfy { $0 == 0 }
    }

    /// An EventFilter this server can evaluate, or the status that says why not.
    func eventSelection(_ filter: ExtensionObject) -> Result<EventSelection, ServiceError> {
        let decoded: EventFilter
        do {
            guard let f = try filter.decodeBody(EventFilter.self, encodingId: EventFilter.binaryEncodingId, limits: decodingLimits) else {
                return .failure(ServiceError(.badMonitoredItemFilterInvalid))
            }
            decoded = f
        } catch {
            return .failure(ServiceError(.badEventFilterInvalid))
        }
        do {
            return .success(try EventSelection(decoded, limits: decodingLimits))
        } catch .operatorUnsupported {
            return .failure(ServiceError(.badFilterOperatorUnsupported))
        } catch {
            return .failure(ServiceError(.badEventFilterInvalid))
        }
    }

    /// ModifyMonitoredItems (Part 4 §5.12.3): a new client handle, filter and timestamps; the
    /// sampling interval and queue size are revised as at creation.
    mutating func modifyMonitoredItems(_ r: ModifyMonitoredItemsRequest, session: NodeId) throws -> [MonitoredItemModifyResult] {
        guard var s = subscriptions[r.subscriptionId], s.session == session else { throw ServiceError(.badSubscriptionIdInvalid) }
        guard let timestamps = TimestampsToReturn(rawValue: r.timestampsToReturn) else { throw ServiceError(.badTimestampsToReturnInvalid) }
        var results: [MonitoredItemModifyResult] = []
        for m in r.itemsToModify {
            guard var item = s.items[m.monitoredItemId] else {
                results.append(MonitoredItemModifyResult(statusCode: .badMonitoredItemIdInvalid))
                continue
            }
            if item.events != nil {
                switch eventSelection(m.filter) {
                case .failure(let why):
                    results.append(MonitoredItemModifyResult(statusCode: why.status))
                    continue
                case .success(let selection): item.events = selection
                }
                item.clientHandle = m.clientHandle
                s.items[m.monitoredItemId] = item
                results.append(MonitoredItemModifyResult(statusCode: .good, revisedSamplingInterval: 0,
                                                         revisedQueueSize: UInt32(subscriptionLimits.maxQueuedNotifications)))
                continue
            }
            guard Self.isSupportedDataChangeFilter(m.filter) else {
                results.append(MonitoredItemModifyResult(statusCode: .badMonitoredItemFilterUnsupported))
                continue
            }
            item.clientHandle = m.clientHandle
            item.timestamps = timestamps
            s.items[m.monitoredItemId] = item
            results.append(MonitoredItemModifyResult(statusCode: .good, revisedSamplingInterval: s.interval, revisedQueueSize: 1))
        }
        subscriptions[r.subscriptionId] = s
        return results
    }

    mutating func deleteSubscriptions(_ ids: [UInt32], session: NodeId) -> [StatusCode] {
        ids.map { id in
            guard subscriptions[id]?.session == session else { return .badSubscriptionIdInvalid }
            subscriptions[id] = nil
            return .good
        }
    }

    /// Queues a Publish request; nil when queued (answered by ``publishDue(at:)``).
    mutating func queuePublish(_ r: PublishRequest, session: NodeId, channelId: UInt32, requestId: UInt32) throws {
        guard subscriptions.values.contains(where: { $0.session == session }) else { throw ServiceError(.badNoSubscription) }
        var queue = publishQueues[session] ?? []
        guard queue.count < subscriptionLimits.maxQueuedPublishRequests else { throw ServiceError(.badTooManyPublishRequests) }
        // An acknowledgement releases the message kept for Republish.
        let results = r.subscriptionAcknowledgements.map { ack -> StatusCode in
            guard var s = subscriptions[ack.subscriptionId], s.session == session else { return .badSubscriptionIdInvalid }
            guard let index = s.unacknowledged.firstIndex(where: { $0.sequenceNumber == ack.sequenceNumber }) else { return .badSequenceNumberUnknown }
            s.unacknowledged.remove(at: index)
            subscriptions[ack.subscriptionId] = s
            return .good
        }
        queue.append(QueuedPublish(channelId: channelId, requestId: requestId, header: r.requestHeader, acknowledgementResults: results))
        publishQueues[session] = queue
    }

    /// Drops what belongs to sessions that are gone; their waiting Publish requests are
    /// answered with BadSessionClosed.
    mutating func dropSubscriptions(ofSessionsOtherThan live: (NodeId) -> Bool, at now: Moment) -> [DeferredResponse] {
        subscriptions = subscriptions.filter { live($0.value.session) }
        var out: [DeferredResponse] = []
        for (session, queue) in publishQueues where !live(session) {
            for q in queue {
                if let body = try? ServiceFault(answering: q.header, at: now.wall, .badSessionClosed).encodedMessage() {
                    out.append(DeferredResponse(channelId: q.channelId, requestId: q.requestId, response: body))
                }
            }
            publishQueues[session] = nil
        }
        return out
    }

    /// The connection of `channelId` is gone: its waiting Publish requests can never be answered.
    public mutating func channelClosed(_ channelId: UInt32) {
        for (session, queue) in publishQueues {
            let kept = queue.filter { $0.channelId != channelId }
            publishQueues[session] = kept.isEmpty ? nil : kept
        }
    }

    /// Samples the subscriptions whose interval has come and answers waiting Publish requests
    /// with their news or a keep-alive (Part 4 §5.13.1). The listener calls this often.
    public mutating func publishDue(at now: Moment) -> [DeferredResponse] {
        var out: [DeferredResponse] = []
        for id in subscriptions.keys.sorted() {
            guard var s = subscriptions[id], now.monotonic >= s.nextPublish else { continue }
            s.nextPublish = now.monotonic + .milliseconds(intervalMilliseconds(s.interval))
            if s.publishingEnabled { sample(&s, at: now) }
            let hasNews = s.publishingEnabled && !(s.pending.isEmpty && s.pendingEvents.isEmpty)
            let keepAliveDue = !s.sentFirstMessage || s.keepAliveCounter + 1 >= s.maxKeepAliveCount
            guard hasNews || keepAliveDue else {
                s.keepAliveCounter += 1
                subscriptions[id] = s
                continue
            }
            guard var queue = publishQueues[s.session], !queue.isEmpty else {
                // Nobody to tell: the lifetime runs down, and at its end the subscription goes.
                s.lifetimeCounter += 1
                subscriptions[id] = s.lifetimeCounter >= s.lifetimeCount ? nil : s
                continue
            }
            let request = queue.removeFirst()
            publishQueues[s.session] = queue.isEmpty ? nil : queue
            var message = NotificationMessage(sequenceNumber: s.nextSequenceNumber, publishTime: now.wall, notificationData: [])
            if hasNews {
                // Value changes first, then events, together at most maxNotificationsPerPublish.
                let limit = s.maxNotificationsPerPublish == 0 ? Int.max : s.maxNotificationsPerPublish
                let count = min(limit, s.pending.count)
                let batch = Array(s.pending.prefix(count))
                s.pending.removeFirst(count)
                let eventCount = min(limit - count, s.pendingEvents.count)
                let events = Array(s.pendingEvents.prefix(eventCount))
                s.pendingEvents.removeFirst(eventCount)
                if !batch.isEmpty,
                   let data = try? ExtensionObject(binaryEncodingId: DataChangeNotification.binaryEncodingId, DataChangeNotification(monitoredItems: batch)) {
                    message.notificationData.append(data)
                }
                if !events.isEmpty, let data = try? ExtensionObject(binaryEncodingId: EventNotificationList.binaryEncodingId, EventNotificationList(events: events)) {
                    message.notificationData.append(data)
                }
                // A keep-alive carries the next number without using it; a message uses it.
                s.nextSequenceNumber = s.nextSequenceNumber == .max ? 1 : s.nextSequenceNumber + 1
                s.unacknowledged.append(message)
                if s.unacknowledged.count > subscriptionLimits.maxRetransmissionQueue { s.unacknowledged.removeFirst() }
            }
            s.keepAliveCounter = 0
            s.lifetimeCounter = 0
            s.sentFirstMessage = true
            subscriptions[id] = s
            let response = PublishResponse(responseHeader: ResponseHeader(answering: request.header, at: now.wall), subscriptionId: id,
                                           availableSequenceNumbers: s.unacknowledged.map(\.sequenceNumber), moreNotifications: !(s.pending.isEmpty && s.pendingEvents.isEmpty), notificationMessage: message, results: request.acknowledgementResults)
            if let body = try? response.encodedMessage() {
                out.append(DeferredResponse(channelId: request.channelId, requestId: request.requestId, response: body))
            }
        }
        return out
    }

    private func sample(_ s: inout Subscription, at now: Moment) {
        for itemId in s.items.keys.sorted() {
            guard var item = s.items[itemId], item.events == nil else { continue }
            var value = addressSpace[item.nodeId] == nil ? DataValue(status: .badNodeIdUnknown) : DataValue(value: currentValue(of: item.nodeId, at: now))
            // A change is a change of value or status (DataChangeTrigger StatusValue), not of time.
            guard value != item.last else { continue }
            item.last = value
            s.items[itemId] = item
            if item.timestamps == .source || item.timestamps == .both { value.sourceTimestamp = now.wall }
            if item.timestamps == .server || item.timestamps == .both { value.serverTimestamp = now.wall }
            s.pending.append(MonitoredItemNotification(clientHandle: item.clientHandle, value: value))
            if s.pending.count > subscriptionLimits.maxQueuedNotifications { s.pending.removeFirst(s.pending.count - subscriptionLimits.maxQueuedNotifications) }
        }
    }
}

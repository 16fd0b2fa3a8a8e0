/// The structures of the Subscription and MonitoredItem service sets this server offers
/// (Part 4 §5.12, §5.13, §7), in their binary encodings (field order from Opc.Ua.Types.bsd).

/// CreateSubscriptionRequest (Part 4 §5.13.2).
public struct CreateSubscriptionRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 787)
    public var requestHeader: RequestHeader
    /// Milliseconds.
    public var requestedPublishingInterval: Double
    public var requestedLifetimeCount: UInt32
    public var requestedMaxKeepAliveCount: UInt32
    public var maxNotificationsPerPublish: UInt32
    public var publishingEnabled: Bool
    public var priority: UInt8

    public init(requestHeader: RequestHeader, requestedPublishingInterval: Double, requestedLifetimeCount: UInt32 = 60,
                requestedMaxKeepAliveCount: UInt32 = 10, maxNotificationsPerPublish: UInt32 = 0, publishingEnabled: Bool = true, priority: UInt8 = 0) {
        self.requestHeader = requestHeader
        self.requestedPublishingInterval = requestedPublishingInterval
        self.requestedLifetimeCount = requestedLifetimeCount
        self.requestedMaxKeepAliveCount = requestedMaxKeepAliveCount
        self.maxNotificationsPerPublish = maxNotificationsPerPublish
        self.publishingEnabled = publishingEnabled
        self.priority = priority
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        requestedPublishingInterval = try r.readDouble("RequestedPublishingInterval")
        requestedLifetimeCount = try r.readInteger("RequestedLifetimeCount")
        requestedMaxKeepAliveCount = try r.readInteger("RequestedMaxKeepAliveCount")
        maxNotificationsPerPublish = try r.readInteger("MaxNotificationsPerPublish")
        publishingEnabled = try r.readBoolean("PublishingEnabled")
        priority = try r.readInteger("Priority")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeDouble(requestedPublishingInterval)
        w.writeInteger(requestedLifetimeCount)
        w.writeInteger(requestedMaxKeepAliveCount)
        w.writeInteger(maxNotificationsPerPublish)
        w.writeBoolean(publishingEnabled)
        w.writeInteger(priority)
    }
}

public struct CreateSubscriptionResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 790)
    public var responseHeader: ResponseHeader
    public var subscriptionId: UInt32
    public var revisedPublishingInterval: Double
    public var revisedLifetimeCount: UInt32
    public var revisedMaxKeepAliveCount: UInt32

    public init(responseHeader: ResponseHeader, subscriptionId: UInt32, revisedPublishingInterval: Double, revisedLifetimeCount: UInt32,
                revisedMaxKeepAliveCount: UInt32) {
        self.responseHeader = responseHeader
        self.subscriptionId = subscriptionId
        self.revisedPublishingInterval = revisedPublishingInterval
        self.revisedLifetimeCount = revisedLifetimeCount
        self.revisedMaxKeepAliveCount = revisedMaxKeepAliveCount
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        revisedPublishingInterval = try r.readDouble("RevisedPublishingInterval")
        revisedLifetimeCount = try r.readInteger("RevisedLifetimeCount")
        revisedMaxKeepAliveCount = try r.readInteger("RevisedMaxKeepAliveCount")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        w.writeInteger(subscriptionId)
        w.writeDouble(revisedPublishingInterval)
        w.writeInteger(revisedLifetimeCount)
        w.writeInteger(revisedMaxKeepAliveCount)
    }
}

/// MonitoringMode (Part 4 §7.23).
public enum MonitoringMode: Int32, Hashable, Sendable {
    case disabled = 0, sampling, reporting
}

/// MonitoredItemCreateRequest with its MonitoringParameters (Part 4 §7.21).
public struct MonitoredItemCreateRequest: Hashable, Sendable, OPCUABinaryCodable {
    public var itemToMonitor: ReadValueId
    public var monitoringMode: Int32
    public var clientHandle: UInt32
    /// Milliseconds; -1: the publishing interval.
    public var samplingInterval: Double
    public var filter: ExtensionObject
    public var queueSize: UInt32
    public var discardOldest: Bool

    public init(itemToMonitor: ReadValueId, monitoringMode: MonitoringMode = .reporting, clientHandle: UInt32, samplingInterval: Double = -1,
                filter: ExtensionObject = .null, queueSize: UInt32 = 1, discardOldest: Bool = true) {
        self.itemToMonitor = itemToMonitor
        self.monitoringMode = monitoringMode.rawValue
        self.clientHandle = clientHandle
        self.samplingInterval = samplingInterval
        self.filter = filter
        self.queueSize = queueSize
        self.discardOldest = discardOldest
    }

    public init(from r: inout BinaryReader) throws {
        itemToMonitor = try r.read()
        // Checked by the service (BadMonitoringModeInvalid), not the decoder.
        monitoringMode = try r.readInteger("MonitoringMode")
        clientHandle = try r.readInteger("ClientHandle")
        samplingInterval = try r.readDouble("SamplingInterval")
        filter = try r.read()
        queueSize = try r.readInteger("QueueSize")
        discardOldest = try r.readBoolean("DiscardOldest")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(itemToMonitor)
        w.writeInteger(monitoringMode)
        w.writeInteger(clientHandle)
        w.writeDouble(samplingInterval)
        try w.write(filter)
        w.writeInteger(queueSize)
        w.writeBoolean(discardOldest)
    }
}

public struct MonitoredItemCreateResult: Hashable, Sendable, OPCUABinaryCodable {
    public var statusCode: StatusCode
    public var monitoredItemId: UInt32
    public var revisedSamplingInterval: Double
    public var revisedQueueSize: UInt32

    public init(statusCode: StatusCode, monitoredItemId: UInt32 = 0, revisedSamplingInterval: Double = 0, revisedQueueSize: UInt32 = 0) {
        self.statusCode = statusCode
        self.monitoredItemId = monitoredItemId
        self.revisedSamplingInterval = revisedSamplingInterval
        self.revisedQueueSize = revisedQueueSize
    }

    public init(from r: inout BinaryReader) throws {
        statusCode = try r.read()
        monitoredItemId = try r.readInteger("MonitoredItemId")
        revisedSamplingInterval = try r.readDouble("RevisedSamplingInterval")
        revisedQueueSize = try r.readInteger("RevisedQueueSize")
        _ = try r.read(ExtensionObject.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(statusCode)
        w.writeInteger(monitoredItemId)
        w.writeDouble(revisedSamplingInterval)
        w.writeInteger(revisedQueueSize)
        try w.write(ExtensionObject.null)
    }
}

/// CreateMonitoredItemsRequest (Part 4 §5.12.2).
public struct CreateMonitoredItemsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 751)
    public var requestHeader: RequestHeader
    public var subscriptionId: UInt32
    public var timestampsToReturn: Int32
    public var itemsToCreate: [MonitoredItemCreateRequest]

    public init(requestHeader: RequestHeader, subscriptionId: UInt32, timestampsToReturn: TimestampsToReturn = .both, itemsToCreate: [MonitoredItemCreateRequest]) {
        self.requestHeader = requestHeader
        self.subscriptionId = subscriptionId
        self.timestampsToReturn = timestampsToReturn.rawValue
        self.itemsToCreate = itemsToCreate
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        timestampsToReturn = try r.readInteger("TimestampsToReturn")
        itemsToCreate = try r.readArray("ItemsToCreate")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(subscriptionId)
        w.writeInteger(timestampsToReturn)
        try w.writeArray(itemsToCreate)
    }
}

public struct CreateMonitoredItemsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 754)
    public var responseHeader: ResponseHeader
    public var results: [MonitoredItemCreateResult]

    public init(responseHeader: ResponseHeader, results: [MonitoredItemCreateResult]) {
        self.responseHeader = responseHeader
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// DeleteSubscriptionsRequest (Part 4 §5.13.8).
public struct DeleteSubscriptionsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 847)
    public var requestHeader: RequestHeader
    public var subscriptionIds: [UInt32]

    public init(requestHeader: RequestHeader, subscriptionIds: [UInt32]) {
        self.requestHeader = requestHeader
        self.subscriptionIds = subscriptionIds
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionIds = try r.readArray("SubscriptionIds", minimumElementSize: 4) { try $0.readInteger("SubscriptionId") }
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeArray(subscriptionIds) { $0.writeInteger($1) }
    }
}

public struct DeleteSubscriptionsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 850)
    public var responseHeader: ResponseHeader
    public var results: [StatusCode]

    public init(responseHeader: ResponseHeader, results: [StatusCode]) {
        self.responseHeader = responseHeader
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// SubscriptionAcknowledgement (Part 4 §5.13.5.2).
public struct SubscriptionAcknowledgement: Hashable, Sendable, OPCUABinaryCodable {
    public var subscriptionId: UInt32
    public var sequenceNumber: UInt32

    public init(subscriptionId: UInt32, sequenceNumber: UInt32) {
        self.subscriptionId = subscriptionId
        self.sequenceNumber = sequenceNumber
    }

    public init(from r: inout BinaryReader) throws {
        subscriptionId = try r.readInteger("SubscriptionId")
        sequenceNumber = try r.readInteger("SequenceNumber")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(subscriptionId)
        w.writeInteger(sequenceNumber)
    }
}

/// PublishRequest (Part 4 §5.13.5): answered later, when a subscription has news or a keep-alive.
public struct PublishRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 826)
    public var requestHeader: RequestHeader
    public var subscriptionAcknowledgements: [SubscriptionAcknowledgement]

    public init(requestHeader: RequestHeader, subscriptionAcknowledgements: [SubscriptionAcknowledgement] = []) {
        self.requestHeader = requestHeader
        self.subscriptionAcknowledgements = subscriptionAcknowledgements
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionAcknowledgements = try r.readArray("SubscriptionAcknowledgements")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeArray(subscriptionAcknowledgements)
    }
}

/// MonitoredItemNotification (Part 4 §7.25.2).
public struct MonitoredItemNotification: Hashable, Sendable, OPCUABinaryCodable {
    public var clientHandle: UInt32
    public var value: DataValue

    public init(clientHandle: UInt32, value: DataValue) {
        self.clientHandle = clientHandle
        self.value = value
    }

    public init(from r: inout BinaryReader) throws {
        clientHandle = try r.readInteger("ClientHandle")
        value = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(clientHandle)
        try w.write(value)
    }
}

/// DataChangeNotification (Part 4 §7.25.2), carried in a NotificationMessage as an ExtensionObject.
public struct DataChangeNotification: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 811)
    public var monitoredItems: [MonitoredItemNotification]

    public init(monitoredItems: [MonitoredItemNotification]) { self.monitoredItems = monitoredItems }

    public init(from r: inout BinaryReader) throws {
        monitoredItems = try r.readArray("MonitoredItems")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeArray(monitoredItems)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// NotificationMessage (Part 4 §7.24): empty for a keep-alive.
public struct NotificationMessage: Hashable, Sendable, OPCUABinaryCodable {
    public var sequenceNumber: UInt32
    public var publishTime: DateTime
    public var notificationData: [ExtensionObject]

    public init(sequenceNumber: UInt32, publishTime: DateTime, notificationData: [ExtensionObject]) {
        self.sequenceNumber = sequenceNumber
        self.publishTime = publishTime
        self.notificationData = notificationData
    }

    public init(from r: inout BinaryReader) throws {
        sequenceNumber = try r.readInteger("SequenceNumber")
        publishTime = try r.read()
        notificationData = try r.readArray("NotificationData")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(sequenceNumber)
        try w.write(publishTime)
        try w.writeArray(notificationData)
    }
}

public struct PublishResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 829)
    public var responseHeader: ResponseHeader
    public var subscriptionId: UInt32
    public var availableSequenceNumbers: [UInt32]
    public var moreNotifications: Bool
    public var notificationMessage: NotificationMessage
    /// One per acknowledgement of the request.
    public var results: [StatusCode]

    public init(responseHeader: ResponseHeader, subscriptionId: UInt32, availableSequenceNumbers: [UInt32] = [], moreNotifications: Bool = false,
                notificationMessage: NotificationMessage, results: [StatusCode]) {
        self.responseHeader = responseHeader
        self.subscriptionId = subscriptionId
        self.availableSequenceNumbers = availableSequenceNumbers
        self.moreNotifications = moreNotifications
        self.notificationMessage = notificationMessage
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        availableSequenceNumbers = try r.readArray("AvailableSequenceNumbers", minimumElementSize: 4) { try $0.readInteger("SequenceNumber") }
        moreNotifications = try r.readBoolean("MoreNotifications")
        notificationMessage = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        w.writeInteger(subscriptionId)
        try w.writeArray(availableSequenceNumbers) { $0.writeInteger($1) }
        w.writeBoolean(moreNotifications)
        try w.write(notificationMessage)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// ModifySubscriptionRequest (Part 4 §5.13.3).
public struct ModifySubscriptionRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 793)
    public var requestHeader: RequestHeader
    public var subscriptionId: UInt32
    public var requestedPublishingInterval: Double
    public var requestedLifetimeCount: UInt32
    public var requestedMaxKeepAliveCount: UInt32
    public var maxNotificationsPerPublish: UInt32
    public var priority: UInt8

    public init(requestHeader: RequestHeader, subscriptionId: UInt32, requestedPublishingInterval: Double, requestedLifetimeCount: UInt32,
                requestedMaxKeepAliveCount: UInt32, maxNotificationsPerPublish: UInt32 = 0, priority: UInt8 = 0) {
        self.requestHeader = requestHeader
        self.subscriptionId = subscriptionId
        self.requestedPublishingInterval = requestedPublishingInterval
        self.requestedLifetimeCount = requestedLifetimeCount
        self.requestedMaxKeepAliveCount = requestedMaxKeepAliveCount
        self.maxNotificationsPerPublish = maxNotificationsPerPublish
        self.priority = priority
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        requestedPublishingInterval = try r.readDouble("RequestedPublishingInterval")
        requestedLifetimeCount = try r.readInteger("RequestedLifetimeCount")
        requestedMaxKeepAliveCount = try r.readInteger("RequestedMaxKeepAliveCount")
        maxNotificationsPerPublish = try r.readInteger("MaxNotificationsPerPublish")
        priority = try r.readInteger("Priority")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(subscriptionId)
        w.writeDouble(requestedPublishingInterval)
        w.writeInteger(requestedLifetimeCount)
        w.writeInteger(requestedMaxKeepAliveCount)
        w.writeInteger(maxNotificationsPerPublish)
        w.writeInteger(priority)
    }
}

public struct ModifySubscriptionResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 796)
    public var responseHeader: ResponseHeader
    public var revisedPublishingInterval: Double
    public var revisedLifetimeCount: UInt32
    public var revisedMaxKeepAliveCount: UInt32

    public init(responseHeader: ResponseHeader, revisedPublishingInterval: Double, revisedLifetimeCount: UInt32, revisedMaxKeepAliveCount: UInt32) {
        self.responseHeader = responseHeader
        self.revisedPublishingInterval = revisedPublishingInterval
        self.revisedLifetimeCount = revisedLifetimeCount
        self.revisedMaxKeepAliveCount = revisedMaxKeepAliveCount
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        revisedPublishingInterval = try r.readDouble("RevisedPublishingInterval")
        revisedLifetimeCount = try r.readInteger("RevisedLifetimeCount")
        revisedMaxKeepAliveCount = try r.readInteger("RevisedMaxKeepAliveCount")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        w.writeDouble(revisedPublishingInterval)
        w.writeInteger(revisedLifetimeCount)
        w.writeInteger(revisedMaxKeepAliveCount)
    }
}

/// SetPublishingModeRequest (Part 4 §5.13.4).
public struct SetPublishingModeRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 799)
    public var requestHeader: RequestHeader
    public var publishingEnabled: Bool
    public var subscriptionIds: [UInt32]

    public init(requestHeader: RequestHeader, publishingEnabled: Bool, subscriptionIds: [UInt32]) {
        self.requestHeader = requestHeader
        self.publishingEnabled = publishingEnabled
        self.subscriptionIds = subscriptionIds
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        publishingEnabled = try r.readBoolean("PublishingEnabled")
        subscriptionIds = try r.readArray("SubscriptionIds", minimumElementSize: 4) { try $0.readInteger("SubscriptionId") }
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeBoolean(publishingEnabled)
        try w.writeArray(subscriptionIds) { $0.writeInteger($1) }
    }
}

public struct SetPublishingModeResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 802)
    public var responseHeader: ResponseHeader
    public var results: [StatusCode]

    public init(responseHeader: ResponseHeader, results: [StatusCode]) {
        self.responseHeader = responseHeader
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// One item of a ModifyMonitoredItemsRequest: its id and new MonitoringParameters (Part 4 §7.21).
public struct MonitoredItemModifyRequest: Hashable, Sendable, OPCUABinaryCodable {
    public var monitoredItemId: UInt32
    public var clientHandle: UInt32
    public var samplingInterval: Double
    public var filter: ExtensionObject
    public var queueSize: UInt32
    public var discardOldest: Bool

    public init(monitoredItemId: UInt32, clientHandle: UInt32, samplingInterval: Double = -1, filter: ExtensionObject = .null,
                queueSize: UInt32 = 1, discardOldest: Bool = true) {
        self.monitoredItemId = monitoredItemId
        self.clientHandle = clientHandle
        self.samplingInterval = samplingInterval
        self.filter = filter
        self.queueSize = queueSize
        self.discardOldest = discardOldest
    }

    public init(from r: inout BinaryReader) throws {
        monitoredItemId = try r.readInteger("MonitoredItemId")
        clientHandle = try r.readInteger("ClientHandle")
        samplingInterval = try r.readDouble("SamplingInterval")
        filter = try r.read()
        queueSize = try r.readInteger("QueueSize")
        discardOldest = try r.readBoolean("DiscardOldest")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(monitoredItemId)
        w.writeInteger(clientHandle)
        w.writeDouble(samplingInterval)
        try w.write(filter)
        w.writeInteger(queueSize)
        w.writeBoolean(discardOldest)
    }
}

public struct MonitoredItemModifyResult: Hashable, Sendable, OPCUABinaryCodable {
    public var statusCode: StatusCode
    public var revisedSamplingInterval: Double
    public var revisedQueueSize: UInt32

    public init(statusCode: StatusCode, revisedSamplingInterval: Double = 0, revisedQueueSize: UInt32 = 0) {
        self.statusCode = statusCode
        self.revisedSamplingInterval = revisedSamplingInterval
        self.revisedQueueSize = revisedQueueSize
    }

    public init(from r: inout BinaryReader) throws {
        statusCode = try r.read()
        revisedSamplingInterval = try r.readDouble("RevisedSamplingInterval")
        revisedQueueSize = try r.readInteger("RevisedQueueSize")
        _ = try r.read(ExtensionObject.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(statusCode)
        w.writeDouble(revisedSamplingInterval)
        w.writeInteger(revisedQueueSize)
        try w.write(ExtensionObject.null)
    }
}

/// ModifyMonitoredItemsRequest (Part 4 §5.12.3).
public struct ModifyMonitoredItemsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 763)
    public var requestHeader: RequestHeader
    public var subscriptionId: UInt32
    public var timestampsToReturn: Int32
    public var itemsToModify: [MonitoredItemModifyRequest]

    public init(requestHeader: RequestHeader, subscriptionId: UInt32, timestampsToReturn: TimestampsToReturn = .both, itemsToModify: [MonitoredItemModifyRequest]) {
        self.requestHeader = requestHeader
        self.subscriptionId = subscriptionId
        self.timestampsToReturn = timestampsToReturn.rawValue
        self.itemsToModify = itemsToModify
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        timestampsToReturn = try r.readInteger("TimestampsToReturn")
        itemsToModify = try r.readArray("ItemsToModify")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(subscriptionId)
        w.writeInteger(timestampsToReturn)
        try w.writeArray(itemsToModify)
    }
}

public struct ModifyMonitoredItemsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 766)
    public var responseHeader: ResponseHeader
    public var results: [MonitoredItemModifyResult]

    public init(responseHeader: ResponseHeader, results: [MonitoredItemModifyResult]) {
        self.responseHeader = responseHeader
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// DeleteMonitoredItemsRequest (Part 4 §5.12.6).
public struct DeleteMonitoredItemsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 781)
    public var requestHeader: RequestHeader
    public var subscriptionId: UInt32
    public var monitoredItemIds: [UInt32]

    public init(requestHeader: RequestHeader, subscriptionId: UInt32, monitoredItemIds: [UInt32]) {
        self.requestHeader = requestHeader
        self.subscriptionId = subscriptionId
        self.monitoredItemIds = monitoredItemIds
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        monitoredItemIds = try r.readArray("MonitoredItemIds", minimumElementSize: 4) { try $0.readInteger("MonitoredItemId") }
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(subscriptionId)
        try w.writeArray(monitoredItemIds) { $0.writeInteger($1) }
    }
}

public struct DeleteMonitoredItemsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 784)
    public var responseHeader: ResponseHeader
    public var results: [StatusCode]

    public init(responseHeader: ResponseHeader, results: [StatusCode]) {
        self.responseHeader = responseHeader
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// RepublishRequest (Part 4 §5.13.6). No message is kept for it here: the answer is
/// BadMessageNotAvailable, which tells a client to carry on.
public struct RepublishResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 835)
    public var responseHeader: ResponseHeader
    public var notificationMessage: NotificationMessage

    public init(responseHeader: ResponseHeader, notificationMessage: NotificationMessage) {
        self.responseHeader = responseHeader
        self.notificationMessage = notificationMessage
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        notificationMessage = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.write(notificationMessage)
    }
}

public struct RepublishRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 832)
    public var requestHeader: RequestHeader
    public var subscriptionId: UInt32
    public var retransmitSequenceNumber: UInt32

    public init(requestHeader: RequestHeader, subscriptionId: UInt32, retransmitSequenceNumber: UInt32) {
        self.requestHeader = requestHeader
        self.subscriptionId = subscriptionId
        self.retransmitSequenceNumber = retransmitSequenceNumber
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        subscriptionId = try r.readInteger("SubscriptionId")
        retransmitSequenceNumber = try r.readInteger("RetransmitSequenceNumber")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeInteger(subscriptionId)
        w.writeInteger(retransmitSequenceNumber)
    }
}

import Foundation

/// The generated Sparkplug B payload (Eclipse Tahu's `sparkplug_b.proto`, see Proto/SOURCES.md).
public typealias SparkplugPayload = Org_Eclipse_Tahu_Protobuf_Payload
public typealias SparkplugMetric = Org_Eclipse_Tahu_Protobuf_Payload.Metric

/// The Sparkplug B datatypes this edge node uses (the proto's comment lists them all).
public enum SparkplugDataType: UInt32, Sendable, CaseIterable {
    case int32 = 3, int64 = 4, uint32 = 7, uint64 = 8, double = 10, boolean = 11, string = 12, dateTime = 13
}

/// A metric value as it is encoded: which protobuf field carries it follows from the datatype.
public enum SparkplugValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case string(String)
}

/// One metric of the catalogue: its name, type and alias (aliases are unique on the node).
public struct MetricDefinition: Sendable, Equatable {
    public let name: String
    public let dataType: SparkplugDataType
    public let alias: UInt64
}

/// The node's own metrics, besides `bdSeq`.
public enum NodeMetric: String, CaseIterable, Sendable {
    case rebirth = "Node Control/Rebirth"
    case status = "Gateway/Status"
    case version = "Gateway/Version"
    case detections = "Counts/Detections"
    case openIncidents = "Counts/OpenIncidents"
    case pendingWorkOrders = "Counts/PendingWorkOrders"
    case camerasOnline = "Counts/CamerasOnline"

    public var dataType: SparkplugDataType {
        switch self {
        case .rebirth: .boolean
        case .status, .version: .string
        case .detections: .uint64
        case .openIncidents, .pendingWorkOrders, .camerasOnline: .uint32
        }
    }

    /// 1…7; device metrics start at 101.
    public var definition: MetricDefinition {
        MetricDefinition(name: rawValue, dataType: dataType, alias: UInt64(Self.allCases.firstIndex(of: self)! + 1))
    }
}

/// Each camera's metrics (a camera is a Sparkplug device).
public enum DeviceMetric: String, CaseIterable, Sendable {
    case lastDefectClass = "Inspection/LastDefectClass"
    case lastConfidence = "Inspection/LastConfidence"
    case rejectPart = "Inspection/RejectPart"
    case lastDetectionTime = "Inspection/LastDetectionTime"
    case openIncidents = "Incidents/Open"
    case severity = "Incidents/Severity"
    case pendingWorkOrders = "WorkOrders/Pending"
    case online = "Camera/Online"

    public var dataType: SparkplugDataType {
        switch self {
        case .lastDefectClass: .string
        case .lastConfidence: .double
        case .rejectPart, .online: .boolean
        case .lastDetectionTime: .dateTime
        case .openIncidents, .pendingWorkOrders: .uint32
        case .severity: .int32
        }
    }

    /// Unique on the node: device `index` (0-based, in configuration order) has 100·(index+1)+1…
    public func definition(device index: Int) -> MetricDefinition {
        MetricDefinition(name: rawValue, dataType: dataType, alias: UInt64(index + 1) * 100 + UInt64(Self.allCases.firstIndex(of: self)! + 1))
    }
}

/// What the node reports about the gateway.
public struct NodeValues: Sendable, Equatable {
    public var status: String
    public var version: String
    /// Detections this gateway process has stored since it started.
    public var detections: UInt64 = 0
    public var openIncidents: UInt32 = 0
    public var pendingWorkOrders: UInt32 = 0
    public var camerasOnline: UInt32 = 0

    public init(status: String, version: String) { self.status = status; self.version = version }

    func value(_ m: NodeMetric) -> SparkplugValue? {
        switch m {
        case .rebirth: .bool(false)
        case .status: .string(status)
        case .version: .string(version)
        case .detections: .uint(detections)
        case .openIncidents: .uint(UInt64(openIncidents))
        case .pendingWorkOrders: .uint(UInt64(pendingWorkOrders))
        case .camerasOnline: .uint(UInt64(camerasOnline))
        }
    }
}

/// What a device reports about its camera; nil values are sent as Sparkplug nulls.
public struct DeviceValues: Sendable, Equatable {
    public var lastDefectClass: String?
    public var lastConfidence: Double?
    public var rejectPart = false
    /// Milliseconds since 1970 (Sparkplug's DateTime).
    public var lastDetectionTime: UInt64?
    public var openIncidents: UInt32 = 0
    /// The highest severity among open incidents, nil when none is open.
    public var severity: Int32?
    public var pendingWorkOrders: UInt32 = 0
    public var online = false

    public init() {}

    func value(_ m: DeviceMetric) -> SparkplugValue? {
        switch m {
        case .lastDefectClass: lastDefectClass.map { .string($0) }
        case .lastConfidence: lastConfidence.map { .double($0) }
        case .rejectPart: .bool(rejectPart)
        case .lastDetectionTime: lastDetectionTime.map { .uint($0) }
        case .openIncidents: .uint(UInt64(openIncidents))
        case .severity: severity.map { .int(Int64($0)) }
        case .pendingWorkOrders: .uint(UInt64(pendingWorkOrders))
        case .online: .bool(online)
        }
    }
}

extension SparkplugMetric {
    /// A metric with its value in the field its datatype names, or `is_null`. Births carry the
    /// name, alias and datatype; data messages the alias only (Sparkplug 3.0).
    init(_ d: MetricDefinition, _ value: SparkplugValue?, timestamp: UInt64, birth: Bool) {
        self.init()
        if birth {
            name = d.name
            datatype = d.dataType.rawValue
        }
        alias = d.alias
        self.timestamp = timestamp
        guard let value else {
            isNull = true
            return
        }
        switch (d.dataType, value) {
        case (.int32, .int(let v)): intValue = UInt32(bitPattern: Int32(clamping: v))
        case (.uint32, .uint(let v)): intValue = UInt32(clamping: v)
        case (.int64, .int(let v)): longValue = UInt64(bitPattern: v)
        case (.uint64, .uint(let v)), (.dateTime, .uint(let v)): longValue = v
        case (.double, .double(let v)): doubleValue = v
        case (.boolean, .bool(let v)): booleanValue = v
        case (.string, .string(let v)): stringValue = v
        default: isNull = true  // A catalogue mistake, never a wrong field.
        }
    }
}

/// The structures of the View and Attribute service sets (Part 4 §5.8, §5.10, §7), in their
/// binary encodings (Part 6 §5.2.6, field order from Opc.Ua.Types.bsd).

/// NodeClass (Part 4 §7.29 of the base model): a bit each, so a mask can select several.
public enum NodeClass: Int32, Hashable, Sendable, CaseIterable {
    case unspecified = 0, object = 1, variable = 2, method = 4, objectType = 8, variableType = 16, referenceType = 32, dataType = 64, view = 128
}

/// BrowseDirection (Part 4 §7.5).
public enum BrowseDirection: Int32, Hashable, Sendable {
    case forward = 0, inverse, both
}

/// TimestampsToReturn (Part 4 §7.40).
public enum TimestampsToReturn: Int32, Hashable, Sendable {
    case source = 0, server, both, neither
}

/// ViewDescription (Part 4 §7.45): this server has no views; only the null view is browsed.
public struct ViewDescription: Hashable, Sendable, OPCUABinaryCodable {
    public var viewId: NodeId
    public var timestamp: DateTime
    public var viewVersion: UInt32

    public init(viewId: NodeId = .null, timestamp: DateTime = .minimum, viewVersion: UInt32 = 0) {
        self.viewId = viewId
        self.timestamp = timestamp
        self.viewVersion = viewVersion
    }

    public init(from r: inout BinaryReader) throws {
        viewId = try r.read()
        timestamp = try r.read()
        viewVersion = try r.readInteger("ViewVersion")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(viewId)
        try w.write(timestamp)
        w.writeInteger(viewVersion)
    }
}

/// BrowseDescription (Part 4 §5.8.2.2).
public struct BrowseDescription: Hashable, Sendable, OPCUABinaryCodable {
    public var nodeId: NodeId
    public var browseDirection: BrowseDirection
    /// Null: every reference type.
    public var referenceTypeId: NodeId
    public var includeSubtypes: Bool
    /// 0: every node class.
    public var nodeClassMask: UInt32
    public var resultMask: UInt32

    public init(nodeId: NodeId, browseDirection: BrowseDirection = .forward, referenceTypeId: NodeId = .null, includeSubtypes: Bool = true,
                nodeClassMask: UInt32 = 0, resultMask: UInt32 = 0x3F) {
        self.nodeId = nodeId
        self.browseDirection = browseDirection
        self.referenceTypeId = referenceTypeId
        self.includeSubtypes = includeSubtypes
        self.nodeClassMask = nodeClassMask
        self.resultMask = resultMask
    }

    public init(from r: inout BinaryReader) throws {
        nodeId = try r.read()
        let direction = try r.readInteger("BrowseDirection", as: Int32.self)
        // An invalid direction is the operation's BadBrowseDirectionInvalid, not a decoding error.
        browseDirection = BrowseDirection(rawValue: direction) ?? .forward
        directionIsValid = BrowseDirection(rawValue: direction) != nil
        referenceTypeId = try r.read()
        includeSubtypes = try r.readBoolean("IncludeSubtypes")
        nodeClassMask = try r.readInteger("NodeClassMask")
        resultMask = try r.readInteger("ResultMask")
    }

    /// False when the request named a direction outside the enumeration.
    public private(set) var directionIsValid = true

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(nodeId)
        w.writeInteger(browseDirection.rawValue)
        try w.write(referenceTypeId)
        w.writeBoolean(includeSubtypes)
        w.writeInteger(nodeClassMask)
        w.writeInteger(resultMask)
    }
}

/// ReferenceDescription (Part 4 §7.30).
public struct ReferenceDescription: Hashable, Sendable, OPCUABinaryCodable {
    public var referenceTypeId: NodeId
    public var isForward: Bool
    public var nodeId: ExpandedNodeId
    public var browseName: QualifiedName
    public var displayName: LocalizedText
    public var nodeClass: NodeClass
    public var typeDefinition: ExpandedNodeId

    public init(referenceTypeId: NodeId, isForward: Bool, nodeId: ExpandedNodeId, browseName: QualifiedName, displayName: LocalizedText,
                nodeClass: NodeClass, typeDefinition: ExpandedNodeId) {
        self.referenceTypeId = referenceTypeId
        self.isForward = isForward
        self.nodeId = nodeId
        self.browseName = browseName
        self.displayName = displayName
        self.nodeClass = nodeClass
        self.typeDefinition = typeDefinition
    }

    public init(from r: inout BinaryReader) throws {
        referenceTypeId = try r.read()
        isForward = try r.readBoolean("IsForward")
        nodeId = try r.read()
        browseName = try r.read()
        displayName = try r.read()
        nodeClass = try readEnum("NodeClass", NodeClass.self, from: &r)
        typeDefinition = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(referenceTypeId)
        w.writeBoolean(isForward)
        try w.write(nodeId)
        try w.write(browseName)
        try w.write(displayName)
        w.writeInteger(nodeClass.rawValue)
        try w.write(typeDefinition)
    }
}

/// BrowseResult (Part 4 §7.6).
public struct BrowseResult: Hashable, Sendable, OPCUABinaryCodable {
    public var statusCode: StatusCode
    public var continuationPoint: [UInt8]?
    public var references: [ReferenceDescription]

    public init(statusCode: StatusCode, continuationPoint: [UInt8]? = nil, references: [ReferenceDescription] = []) {
        self.statusCode = statusCode
        self.continuationPoint = continuationPoint
        self.references = references
    }

    public init(from r: inout BinaryReader) throws {
        statusCode = try r.read()
        continuationPoint = try r.readByteString("ContinuationPoint")
        references = try r.readArray("References")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(statusCode)
        try w.writeByteString(continuationPoint)
        try w.writeArray(references)
    }
}

/// BrowseRequest (Part 4 §5.8.2).
public struct BrowseRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 527)
    public var requestHeader: RequestHeader
    public var view: ViewDescription
    /// 0: no limit from the client (the server's own still applies).
    public var requestedMaxReferencesPerNode: UInt32
    public var nodesToBrowse: [BrowseDescription]

    public init(requestHeader: RequestHeader, view: ViewDescription = ViewDescription(), requestedMaxReferencesPerNode: UInt32 = 0,
                nodesToBrowse: [BrowseDescription]) {
        self.requestHeader = requestHeader
        self.view = view
        self.requestedMaxReferencesPerNode = requestedMaxReferencesPerNode
        self.nodesToBrowse = nodesToBrowse
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        view = try r.read()
        requestedMaxReferencesPerNode = try r.readInteger("RequestedMaxReferencesPerNode")
        nodesToBrowse = try r.readArray("NodesToBrowse")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.write(view)
        w.writeInteger(requestedMaxReferencesPerNode)
        try w.writeArray(nodesToBrowse)
    }
}

/// BrowseResponse and BrowseNextResponse share their layout.
public struct BrowseResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 530)
    public var responseHeader: ResponseHeader
    public var results: [BrowseResult]

    public init(responseHeader: ResponseHeader, results: [BrowseResult]) {
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

/// BrowseNextRequest (Part 4 §5.8.3).
public struct BrowseNextRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 533)
    public var requestHeader: RequestHeader
    public var releaseContinuationPoints: Bool
    public var continuationPoints: [[UInt8]?]

    public init(requestHeader: RequestHeader, releaseContinuationPoints: Bool = false, continuationPoints: [[UInt8]?]) {
        self.requestHeader = requestHeader
        self.releaseContinuationPoints = releaseContinuationPoints
        self.continuationPoints = continuationPoints
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        releaseContinuationPoints = try r.readBoolean("ReleaseContinuationPoints")
        continuationPoints = try r.readArray("ContinuationPoints", minimumElementSize: 4) { try $0.readByteString("ContinuationPoint") }
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeBoolean(releaseContinuationPoints)
        try w.writeArray(continuationPoints) { try $0.writeByteString($1) }
    }
}

public struct BrowseNextResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 536)
    public var responseHeader: ResponseHeader
    public var results: [BrowseResult]

    public init(responseHeader: ResponseHeader, results: [BrowseResult]) {
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

/// RelativePathElement (Part 4 §7.31).
public struct RelativePathElement: Hashable, Sendable, OPCUABinaryCodable {
    public var referenceTypeId: NodeId
    public var isInverse: Bool
    public var includeSubtypes: Bool
    public var targetName: QualifiedName

    public init(referenceTypeId: NodeId = NodeId(numeric: 33), isInverse: Bool = false, includeSubtypes: Bool = true, targetName: QualifiedName) {
        self.referenceTypeId = referenceTypeId
        self.isInverse = isInverse
        self.includeSubtypes = includeSubtypes
        self.targetName = targetName
    }

    public init(from r: inout BinaryReader) throws {
        referenceTypeId = try r.read()
        isInverse = try r.readBoolean("IsInverse")
        includeSubtypes = try r.readBoolean("IncludeSubtypes")
        targetName = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(referenceTypeId)
        w.writeBoolean(isInverse)
        w.writeBoolean(includeSubtypes)
        try w.write(targetName)
    }
}

/// BrowsePath (Part 4 §7.7): a starting node and a RelativePath.
public struct BrowsePath: Hashable, Sendable, OPCUABinaryCodable {
    public var startingNode: NodeId
    public var elements: [RelativePathElement]

    public init(startingNode: NodeId, elements: [RelativePathElement]) {
        self.startingNode = startingNode
        self.elements = elements
    }

    public init(from r: inout BinaryReader) throws {
        startingNode = try r.read()
        elements = try r.readArray("RelativePath Elements")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(startingNode)
        try w.writeArray(elements)
    }
}

public struct BrowsePathTarget: Hashable, Sendable, OPCUABinaryCodable {
    public var targetId: ExpandedNodeId
    /// UInt32.max: the whole path was followed.
    public var remainingPathIndex: UInt32

    public init(targetId: ExpandedNodeId, remainingPathIndex: UInt32 = .max) {
        self.targetId = targetId
        self.remainingPathIndex = remainingPathIndex
    }

    public init(from r: inout BinaryReader) throws {
        targetId = try r.read()
        remainingPathIndex = try r.readInteger("RemainingPathIndex")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(targetId)
        w.writeInteger(remainingPathIndex)
    }
}

public struct BrowsePathResult: Hashable, Sendable, OPCUABinaryCodable {
    public var statusCode: StatusCode
    public var targets: [BrowsePathTarget]

    public init(statusCode: StatusCode, targets: [BrowsePathTarget] = []) {
        self.statusCode = statusCode
        self.targets = targets
    }

    public init(from r: inout BinaryReader) throws {
        statusCode = try r.read()
        targets = try r.readArray("Targets")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(statusCode)
        try w.writeArray(targets)
    }
}

/// TranslateBrowsePathsToNodeIdsRequest (Part 4 §5.8.4).
public struct TranslateBrowsePathsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 554)
    public var requestHeader: RequestHeader
    public var browsePaths: [BrowsePath]

    public init(requestHeader: RequestHeader, browsePaths: [BrowsePath]) {
        self.requestHeader = requestHeader
        self.browsePaths = browsePaths
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        browsePaths = try r.readArray("BrowsePaths")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeArray(browsePaths)
    }
}

public struct TranslateBrowsePathsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 557)
    public var responseHeader: ResponseHeader
    public var results: [BrowsePathResult]

    public init(responseHeader: ResponseHeader, results: [BrowsePathResult]) {
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

/// ReadValueId (Part 4 §7.29).
public struct ReadValueId: Hashable, Sendable, OPCUABinaryCodable {
    public var nodeId: NodeId
    public var attributeId: UInt32
    public var indexRange: String?
    public var dataEncoding: QualifiedName

    public init(nodeId: NodeId, attributeId: AttributeId, indexRange: String? = nil, dataEncoding: QualifiedName = QualifiedName(name: nil)) {
        self.nodeId = nodeId
        self.attributeId = attributeId.rawValue
        self.indexRange = indexRange
        self.dataEncoding = dataEncoding
    }

    public init(from r: inout BinaryReader) throws {
        nodeId = try r.read()
        attributeId = try r.readInteger("AttributeId")
        indexRange = try r.readString("IndexRange")
        dataEncoding = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(nodeId)
        w.writeInteger(attributeId)
        try w.writeString(indexRange)
        try w.write(dataEncoding)
    }
}

/// ReadRequest (Part 4 §5.10.2).
public struct ReadRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 631)
    public var requestHeader: RequestHeader
    public var maxAge: Double
    public var timestampsToReturn: Int32
    public var nodesToRead: [ReadValueId]

    public init(requestHeader: RequestHeader, maxAge: Double = 0, timestampsToReturn: TimestampsToReturn = .both, nodesToRead: [ReadValueId]) {
        self.requestHeader = requestHeader
        self.maxAge = maxAge
        self.timestampsToReturn = timestampsToReturn.rawValue
        self.nodesToRead = nodesToRead
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        maxAge = try r.readDouble("MaxAge")
        // Checked by the service (BadTimestampsToReturnInvalid), not the decoder.
        timestampsToReturn = try r.readInteger("TimestampsToReturn")
        nodesToRead = try r.readArray("NodesToRead")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeDouble(maxAge)
        w.writeInteger(timestampsToReturn)
        try w.writeArray(nodesToRead)
    }
}

public struct ReadResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 634)
    public var responseHeader: ResponseHeader
    public var results: [DataValue]

    public init(responseHeader: ResponseHeader, results: [DataValue]) {
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

/// WriteValue (Part 4 §5.10.4.2).
public struct WriteValue: Hashable, Sendable, OPCUABinaryCodable {
    public var nodeId: NodeId
    public var attributeId: UInt32
    public var indexRange: String?
    public var value: DataValue

    public init(nodeId: NodeId, attributeId: AttributeId = .value, indexRange: String? = nil, value: DataValue) {
        self.nodeId = nodeId
        self.attributeId = attributeId.rawValue
        self.indexRange = indexRange
        self.value = value
    }

    public init(from r: inout BinaryReader) throws {
        nodeId = try r.read()
        attributeId = try r.readInteger("AttributeId")
        indexRange = try r.readString("IndexRange")
        value = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(nodeId)
        w.writeInteger(attributeId)
        try w.writeString(indexRange)
        try w.write(value)
    }
}

/// WriteRequest (Part 4 §5.10.4).
public struct WriteRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 673)
    public var requestHeader: RequestHeader
    public var nodesToWrite: [WriteValue]

    public init(requestHeader: RequestHeader, nodesToWrite: [WriteValue]) {
        self.requestHeader = requestHeader
        self.nodesToWrite = nodesToWrite
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        nodesToWrite = try r.readArray("NodesToWrite")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeArray(nodesToWrite)
    }
}

public struct WriteResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 676)
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

/// The attributes of Part 3 §5 by id (AttributeIds.csv).
public enum AttributeId: UInt32, Hashable, Sendable, CaseIterable {
    case nodeId = 1, nodeClass, browseName, displayName, description, writeMask, userWriteMask, isAbstract, symmetric, inverseName,
         containsNoLoops, eventNotifier, value, dataType, valueRank, arrayDimensions, accessLevel, userAccessLevel,
         minimumSamplingInterval, historizing, executable, userExecutable, dataTypeDefinition, rolePermissions, userRolePermissions,
         accessRestrictions, accessLevelEx
}

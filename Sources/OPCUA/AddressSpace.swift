/// One reference of a node (Part 3 §4.3.4), stored on both of its ends.
public struct Reference: Hashable, Sendable {
    public var referenceTypeId: NodeId
    public var isForward: Bool
    public var target: NodeId

    public init(_ referenceTypeId: NodeId, isForward: Bool = true, _ target: NodeId) {
        self.referenceTypeId = referenceTypeId
        self.isForward = isForward
        self.target = target
    }
}

/// A node and the attributes this server keeps (Part 3 §5). Attributes a node class does not
/// have stay nil and read as BadAttributeIdInvalid.
public struct Node: Hashable, Sendable {
    public var nodeId: NodeId
    public var nodeClass: NodeClass
    public var browseName: QualifiedName
    public var displayName: LocalizedText
    public var description: LocalizedText?
    public var references: [Reference] = []
    public var value: Variant?
    public var dataType: NodeId?
    public var valueRank: Int32?
    public var arrayDimensions: [UInt32]?
    public var accessLevel: UInt8?
    public var minimumSamplingInterval: Double?
    public var historizing: Bool?
    public var isAbstract: Bool?
    public var symmetric: Bool?
    public var inverseName: LocalizedText?
    public var eventNotifier: UInt8?
    public var executable: Bool?
    public var containsNoLoops: Bool?

    public init(nodeId: NodeId, nodeClass: NodeClass, browseName: QualifiedName, displayName: LocalizedText? = nil) {
        self.nodeId = nodeId
        self.nodeClass = nodeClass
        self.browseName = browseName
        self.displayName = displayName ?? LocalizedText(text: browseName.name)
        switch nodeClass {
        case .variable, .variableType:
            valueRank = -1
            dataType = NodeId(numeric: 24)  // BaseDataType
            if nodeClass == .variable {
                accessLevel = AccessLevel.currentRead
                minimumSamplingInterval = 0
                historizing = false
            }
        case .objectType, .dataType: isAbstract = false
        case .referenceType:
            isAbstract = false
            symmetric = false
        case .object: eventNotifier = 0
        case .method: executable = false
        case .view:
            eventNotifier = 0
            containsNoLoops = true
        case .unspecified: break
        }
    }
}

/// The AccessLevel bits of Part 3 §5.6.2.
public enum AccessLevel {
    public static let currentRead: UInt8 = 0x01
    public static let currentWrite: UInt8 = 0x02
}

/// The namespace-0 ids the server itself uses (NodeIds.csv).
extension NodeId {
    public static let objectsFolder = NodeId(numeric: 85)
    public static let rootFolder = NodeId(numeric: 84)
    public static let server = NodeId(numeric: 2253)
    public static let serverArray = NodeId(numeric: 2254)
    public static let namespaceArray = NodeId(numeric: 2255)
    public static let serverStatus = NodeId(numeric: 2256)
    public static let serverStatusStartTime = NodeId(numeric: 2257)
    public static let serverStatusCurrentTime = NodeId(numeric: 2258)
    public static let serverStatusState = NodeId(numeric: 2259)
    public static let serverStatusBuildInfo = NodeId(numeric: 2260)
    public static let serverStatusSecondsTillShutdown = NodeId(numeric: 2992)
    public static let serverStatusShutdownReason = NodeId(numeric: 2993)
    public static let serverStatusDataType = NodeId(numeric: 862)
    public static let serverStatusEncodingDefaultBinary = NodeId(numeric: 864)
    public static let serviceLevel = NodeId(numeric: 2267)

    // Reference types.
    public static let hierarchicalReferences = NodeId(numeric: 33)
    public static let organizes = NodeId(numeric: 35)
    public static let hasTypeDefinition = NodeId(numeric: 40)
    public static let hasSubtype = NodeId(numeric: 45)
    public static let hasComponent = NodeId(numeric: 47)

    // Types.
    public static let booleanDataType = NodeId(numeric: 1)
    public static let baseDataVariableType = NodeId(numeric: 63)
}

/// The nodes a server exposes, by id, with its namespace table (Part 3 §8.2.2). A plain value:
/// the services read it and the server changes it; nothing in it does I/O.
public struct AddressSpace: Sendable {
    public private(set) var nodes: [NodeId: Node] = [:]
    /// NamespaceArray: index 0 is always the OPC UA namespace.
    public private(set) var namespaces: [String]

    public init(namespaces: [String] = ["http://opcfoundation.org/UA/"]) {
        self.namespaces = namespaces
    }

    public subscript(id: NodeId) -> Node? { nodes[id] }

    /// The index of `uri`, added when new.
    public mutating func namespaceIndex(for uri: String) -> UInt16 {
        if let i = namespaces.firstIndex(of: uri) { return UInt16(i) }
        namespaces.append(uri)
        return UInt16(namespaces.count - 1)
    }

    /// Adds or replaces a node, keeping the references it already had from others.
    public mutating func add(_ node: Node) {
        var node = node
        if let existing = nodes[node.nodeId] {
            for r in existing.references where !node.references.contains(r) { node.references.append(r) }
        }
        nodes[node.nodeId] = node
    }

    /// Adds a reference to `source` and its inverse to `target` (when those nodes exist).
    public mutating func addReference(_ referenceTypeId: NodeId, from source: NodeId, to target: NodeId) {
        let forward = Reference(referenceTypeId, isForward: true, target)
        if nodes[source]?.references.contains(forward) == false { nodes[source]?.references.append(forward) }
        let inverse = Reference(referenceTypeId, isForward: false, source)
        if nodes[target]?.references.contains(inverse) == false { nodes[target]?.references.append(inverse) }
    }

    /// Completes the other end of every reference the node sets give on one side only.
    mutating func mirrorReferences() {
        var additions: [NodeId: [Reference]] = [:]
        for node in nodes.values {
            for r in node.references {
                let back = Reference(r.referenceTypeId, isForward: !r.isForward, node.nodeId)
                if let target = nodes[r.target], !target.references.contains(back) { additions[r.target, default: []].append(back) }
            }
        }
        for (id, refs) in additions {
            for r in refs where !(nodes[id]!.references.contains(r)) { nodes[id]!.references.append(r) }
        }
    }

    /// Removes a node and every reference to it.
    public mutating func remove(_ id: NodeId) {
        guard let node = nodes.removeValue(forKey: id) else { return }
        for r in node.references { nodes[r.target]?.references.removeAll { $0.target == id } }
    }

    public mutating func setValue(_ value: Variant, of id: NodeId) {
        nodes[id]?.value = value
    }

    /// Whether `type` is `ancestor` or a subtype of it (HasSubtype, inverse), bounded by depth.
    public func isSubtype(_ type: NodeId, of ancestor: NodeId) -> Bool {
        var current = type
        for _ in 0..<64 {
            if current == ancestor { return true }
            guard let parent = nodes[current]?.references.first(where: { $0.referenceTypeId == .hasSubtype && !$0.isForward }) else { return false }
            current = parent.target
        }
        return false
    }

    /// The target of `node`'s HasTypeDefinition reference.
    public func typeDefinition(of id: NodeId) -> NodeId? {
        nodes[id]?.references.first { $0.referenceTypeId == .hasTypeDefinition && $0.isForward }?.target
    }
}

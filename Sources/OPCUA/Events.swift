import NIOCore

/// SimpleAttributeOperand (Part 4 §7.4.4.5): a field of an event, named by its browse path from
/// an event type.
public struct SimpleAttributeOperand: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 603)
    public var typeDefinitionId: NodeId
    public var browsePath: [QualifiedName]
    public var attributeId: UInt32
    public var indexRange: String?

    public init(typeDefinitionId: NodeId = NodeId(numeric: 2041), browsePath: [QualifiedName], attributeId: UInt32 = AttributeId.value.rawValue,
                indexRange: String? = nil) {
        self.typeDefinitionId = typeDefinitionId
        self.browsePath = browsePath
        self.attributeId = attributeId
        self.indexRange = indexRange
    }

    public init(from r: inout BinaryReader) throws {
        typeDefinitionId = try r.read()
        browsePath = try r.readArray("BrowsePath")
        attributeId = try r.readInteger("AttributeId")
        indexRange = try r.readString("IndexRange")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(typeDefinitionId)
        try w.writeArray(browsePath)
        w.writeInteger(attributeId)
        try w.writeString(indexRange)
    }
}

/// FilterOperator (Part 4 §7.4.3): the ones this server evaluates.
public enum FilterOperator: Int32, Hashable, Sendable {
    case equals = 0, not = 7, inList = 9, and = 10, or = 11, ofType = 14
}

/// ContentFilterElement (Part 4 §7.4.1): an operator and its operands (ExtensionObjects:
/// ElementOperand, LiteralOperand, SimpleAttributeOperand).
public struct ContentFilterElement: Hashable, Sendable, OPCUABinaryCodable {
    public var filterOperator: Int32
    public var filterOperands: [ExtensionObject]

    public init(filterOperator: Int32, filterOperands: [ExtensionObject]) {
        self.filterOperator = filterOperator
        self.filterOperands = filterOperands
    }

    public init(from r: inout BinaryReader) throws {
        filterOperator = try r.readInteger("FilterOperator")
        filterOperands = try r.readArray("FilterOperands")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(filterOperator)
        try w.writeArray(filterOperands)
    }
}

/// EventFilter (Part 4 §7.22.3): the fields to report and the condition an event must meet.
public struct EventFilter: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 727)
    public var selectClauses: [SimpleAttributeOperand]
    public var whereClause: [ContentFilterElement]

    public init(selectClauses: [SimpleAttributeOperand], whereClause: [ContentFilterElement] = []) {
        self.selectClauses = selectClauses
        self.whereClause = whereClause
    }

    public init(from r: inout BinaryReader) throws {
        selectClauses = try r.readArray("SelectClauses")
        whereClause = try r.readArray("WhereClause.Elements")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeArray(selectClauses)
        try w.writeArray(whereClause)
    }
}

/// EventFieldList and EventNotificationList (Part 4 §7.22.3).
public struct EventFieldList: Hashable, Sendable, OPCUABinaryCodable {
    public var clientHandle: UInt32
    public var eventFields: [Variant]

    public init(clientHandle: UInt32, eventFields: [Variant]) {
        self.clientHandle = clientHandle
        self.eventFields = eventFields
    }

    public init(from r: inout BinaryReader) throws {
        clientHandle = try r.readInteger("ClientHandle")
        eventFields = try r.readArray("EventFields")
    }

    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(clientHandle)
        try w.writeArray(eventFields)
    }
}

public struct EventNotificationList: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 916)
    public var events: [EventFieldList]

    public init(events: [EventFieldList]) { self.events = events }
    public init(from r: inout BinaryReader) throws { events = try r.readArray("Events") }
    public func encode(to w: inout BinaryWriter) throws { try w.writeArray(events) }
}

/// An operand of a where clause, decoded and checked once, when the item is created.
enum FilterOperand: Sendable {
    case element(Int)
    case literal(Variant)
    case field(QualifiedName)
}

/// A checked EventFilter: the select clauses by browse name and the where clause's elements.
struct EventSelection: Sendable {
    static let maxSelectClauses = 64
    static let maxWhereElements = 16

    var fields: [QualifiedName?]
    var elements: [(FilterOperator, [FilterOperand])]

    /// Refuses what this server cannot evaluate: unknown operators, operands of other kinds,
    /// element references that do not point forward (so evaluation ends), more than the bounds.
    init(_ filter: EventFilter, limits: DecodingLimits) throws(EventFilterError) {
        guard !filter.selectClauses.isEmpty, filter.selectClauses.count <= Self.maxSelectClauses,
              filter.whereClause.count <= Self.maxWhereElements else { throw .invalid }
        // One element of a browse path: the fields are properties of the event type.
        fields = filter.selectClauses.map { c in
            c.attributeId == AttributeId.value.rawValue && c.browsePath.count == 1 ? c.browsePath[0] : nil
        }
        var elements: [(FilterOperator, [FilterOperand])] = []
        for (index, element) in filter.whereClause.enumerated() {
            guard let op = FilterOperator(rawValue: element.filterOperator) else { throw .operatorUnsupported }
            let operands = try element.filterOperands.map { (o: ExtensionObject) throws(EventFilterError) -> FilterOperand in
                try Self.operand(o, after: index, count: filter.whereClause.count, limits: limits)
            }
            // InList: the value, then what it may equal (asyncua selects event types this way).
            let arity: ClosedRange<Int> = op == .not || op == .ofType ? 1...1 : op == .inList ? 2...Self.maxSelectClauses : 2...2
            guard arity.contains(operands.count) else { throw .invalid }
            if op == .ofType { guard case .literal(.scalar(.nodeId)) = operands[0] else { throw .invalid } }
            if op == .and || op == .or || op == .not {
                guard operands.allSatisfy({ if case .element = $0 { return true } else { return false } }) else { throw .invalid }
            }
            elements.append((op, operands))
        }
        self.elements = elements
    }

    private static func operand(_ o: ExtensionObject, after index: Int, count: Int, limits: DecodingLimits) throws(EventFilterError) -> FilterOperand {
        guard case .binary(let bytes) = o.body else { throw .invalid }
        do {
            var r = BinaryReader(ByteBuffer(bytes: bytes), limits: limits)
            switch o.typeId {
            case NodeId(numeric: 594):  // ElementOperand
                let target = Int(try r.readInteger("Index", as: UInt32.self))
                guard target > index, target < count else { throw EventFilterError.invalid }
                return .element(target)
            case NodeId(numeric: 597):  // LiteralOperand
                return .literal(try r.read())
            case SimpleAttributeOperand.binaryEncodingId:
                let s: SimpleAttributeOperand = try r.read()
                guard s.browsePath.count == 1 else { throw EventFilterError.invalid }
                return .field(s.browsePath[0])
            default:
                throw EventFilterError.invalid
            }
        } catch let e as EventFilterError {
            throw e
        } catch {
            throw .invalid
        }
    }

    /// Whether `event` meets the where clause (an empty one: always).
    func matches(_ event: RaisedEvent, in space: AddressSpace) -> Bool {
        elements.isEmpty || evaluate(0, event, space)
    }

    private func evaluate(_ index: Int, _ event: RaisedEvent, _ space: AddressSpace) -> Bool {
        let (op, operands) = elements[index]
        func value(_ o: FilterOperand) -> Variant? {
            switch o {
            case .literal(let v): return v
            case .field(let name): return event.field(name)
            case .element(let i): return .scalar(.boolean(evaluate(i, event, space)))
            }
        }
        func truth(_ o: FilterOperand) -> Bool {
            if case .element(let i) = o { return evaluate(i, event, space) }
            return false
        }
        switch op {
        case .ofType:
            guard case .literal(.scalar(.nodeId(let type))) = operands[0] else { return false }
            return space.isSubtype(event.eventType, of: type)
        case .equals: return value(operands[0]).map { Self.equal($0, value(operands[1])) } ?? false
        case .inList:
            guard let first = value(operands[0]) else { return false }
            return operands.dropFirst().contains { Self.equal(first, value($0)) }
        case .and: return truth(operands[0]) && truth(operands[1])
        case .or: return truth(operands[0]) || truth(operands[1])
        case .not: return !truth(operands[0])
        }
    }

    /// Equal values; numbers compare across their integer types, as Part 4 §7.4.3's implicit
    /// conversions allow for the common case of an Int32 field against a literal of another width.
    static func equal(_ a: Variant, _ b: Variant?) -> Bool {
        guard let b else { return false }
        if let x = integer(a), let y = integer(b) { return x == y }
        return a == b
    }

    private static func integer(_ v: Variant) -> Int64? {
        guard case .scalar(let s) = v else { return nil }
        switch s {
        case .sByte(let x): return Int64(x)
        case .byte(let x): return Int64(x)
        case .int16(let x): return Int64(x)
        case .uInt16(let x): return Int64(x)
        case .int32(let x): return Int64(x)
        case .uInt32(let x): return Int64(x)
        case .int64(let x): return x
        default: return nil
        }
    }
}

enum EventFilterError: Error {
    case invalid, operatorUnsupported
}

/// A Machine Vision result, raised as a `ResultReadyEventType` event (OPC 40100-1 §8.3.8.4)
/// on its camera's VisionSystem object and on Server.
public struct ResultReadyEvent: Hashable, Sendable {
    public var camera: String
    public var resultId: String
    /// ResultState 2 (NOK) when true, 1 (OK) otherwise.
    public var nok: Bool
    public var measId: String
    public var partId: String?
    public var creationTime: DateTime
    public var simulated: Bool
    /// ResultContent[0].
    public var content: String
    public var message: String
    /// BaseEventType Severity, 1–1000.
    public var severity: UInt16

    public init(camera: String, resultId: String, nok: Bool, measId: String, partId: String?, creationTime: DateTime, simulated: Bool,
                content: String, message: String, severity: UInt16) {
        self.camera = camera
        self.resultId = resultId
        self.nok = nok
        self.measId = measId
        self.partId = partId
        self.creationTime = creationTime
        self.simulated = simulated
        self.content = content
        self.message = message
        self.severity = min(max(severity, 1), 1000)
    }
}

/// An event as the filters see it: its type and its fields by browse name.
struct RaisedEvent {
    var eventType: NodeId
    var fields: [QualifiedName: Variant]

    func field(_ name: QualifiedName) -> Variant? { fields[name] }
}

extension ServerCore {
    /// The Server object (i=2253), which every event is also raised on.
    static let serverObject = NodeId(numeric: 2253)

    /// Raises `event` on the camera's VisionSystem object (made when new) and on Server: every
    /// event monitored item on either whose where clause it meets queues the selected fields.
    public mutating func raise(_ event: ResultReadyEvent, at now: Moment) {
        addVisionSystem(camera: event.camera)
        let own = addressSpace.namespaceIndex(for: description.applicationUri)
        let mv = addressSpace.namespaceIndex(for: MachineVision.namespaceUri)
        let source = NodeId(namespaceIndex: own, .string(event.camera))
        let type = NodeId(namespaceIndex: mv, numeric: MachineVision.resultReadyEventType)
        func base(_ name: String) -> QualifiedName { QualifiedName(namespaceIndex: 0, name: name) }
        func model(_ name: String) -> QualifiedName { QualifiedName(namespaceIndex: mv, name: name) }
        let raised = RaisedEvent(eventType: type, fields: [
            base("EventId"): .scalar(.byteString(randomBytes(16))),
            base("EventType"): .scalar(.nodeId(type)),
            base("SourceNode"): .scalar(.nodeId(source)),
            base("SourceName"): .scalar(.string(event.camera)),
            base("Time"): .scalar(.dateTime(now.wall)),
            base("ReceiveTime"): .scalar(.dateTime(now.wall)),
            base("Message"): .scalar(.localizedText(LocalizedText(locale: "en", text: event.message))),
            base("Severity"): .scalar(.uInt16(event.severity)),
            model("ResultId"): .scalar(.string(event.resultId)),
            model("ResultState"): .scalar(.int32(event.nok ? 2 : 1)),
            model("MeasId"): .scalar(.string(event.measId)),
            model("PartId"): event.partId.map { .scalar(.string($0)) } ?? .null,
            model("CreationTime"): .scalar(.dateTime(event.creationTime)),
            model("IsSimulated"): .scalar(.boolean(event.simulated)),
            model("ResultContent"): .array(type: .string, elements: [.string(event.content)]),
        ])
        for id in subscriptions.keys.sorted() {
            guard var s = subscriptions[id] else { continue }
            for itemId in s.items.keys.sorted() {
                guard let item = s.items[itemId], let selection = item.events, item.nodeId == source || item.nodeId == Self.serverObject,
                      selection.matches(raised, in: addressSpace) else { continue }
                s.pendingEvents.append(EventFieldList(clientHandle: item.clientHandle,
                                                      eventFields: selection.fields.map { $0.flatMap(raised.field) ?? .null }))
            }
            if s.pendingEvents.count > subscriptionLimits.maxQueuedNotifications {
                s.pendingEvents.removeFirst(s.pendingEvents.count - subscriptionLimits.maxQueuedNotifications)
            }
            subscriptions[id] = s
        }
    }
}

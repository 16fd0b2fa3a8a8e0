import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A NodeSet2 file that cannot be loaded, with the line it failed at.
public struct NodeSetError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { "\(file):\(line): \(message)" }
}

/// Bounds on a NodeSet2 file, so a damaged or hostile file ends in an error, not in memory
/// exhaustion. The vendored files are far inside them (ns0: ~5,000 nodes, 3.6 MB).
public struct NodeSetLimits: Sendable {
    public var maxFileBytes = 32 << 20
    public var maxDepth = 64
    public var maxNodes = 100_000
    public var maxReferencesPerNode = 10_000
    public var maxTextBytes = 1 << 20
    /// Elements inside one <Value>.
    public var maxValueElements = 10_000

    public init() {}
}

extension AddressSpace {
    /// Loads the nodes of a UANodeSet (Part 6 Annex F) into this address space, mapping the
    /// file's namespace indexes onto this server's table. Values of the built-in scalar types
    /// and their ListOf forms are kept; structure values (ExtensionObject) are left empty.
    public mutating func load(nodeSet url: URL, limits: NodeSetLimits = NodeSetLimits()) throws {
        let name = url.lastPathComponent
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= limits.maxFileBytes else {
            throw NodeSetError(file: name, line: 0, message: "\(size) bytes exceed the limit of \(limits.maxFileBytes)")
        }
        let data = try Data(contentsOf: url)
        let parser = XMLParser(data: data)
        let reader = NodeSetReader(file: name, limits: limits, parser: parser)
        parser.delegate = reader
        parser.shouldResolveExternalEntities = false
        let ok = parser.parse()
        if let error = reader.error { throw error }
        if let open = reader.openElement { throw NodeSetError(file: name, line: parser.lineNumber, message: "<\(open)> is never closed") }
        guard ok else {
            throw NodeSetError(file: name, line: parser.lineNumber, message: parser.parserError.map { "\($0)" } ?? "malformed XML")
        }
        var map: [UInt16: UInt16] = [0: 0]
        for (i, uri) in reader.namespaceUris.enumerated() { map[UInt16(i + 1)] = namespaceIndex(for: uri) }
        func mapped(_ id: NodeId) throws -> NodeId {
            guard let ns = map[id.namespaceIndex] else {
                throw NodeSetError(file: name, line: 0, message: "\(id) names namespace \(id.namespaceIndex), which the file does not declare")
            }
            var id = id
            id.namespaceIndex = ns
            return id
        }
        for var node in reader.nodes {
            node.nodeId = try mapped(node.nodeId)
            node.browseName.namespaceIndex = map[node.browseName.namespaceIndex] ?? node.browseName.namespaceIndex
            node.dataType = try node.dataType.map(mapped)
            node.references = try node.references.map { Reference(try mapped($0.referenceTypeId), isForward: $0.isForward, try mapped($0.target)) }
            add(node)
        }
        mirrorReferences()
    }
}

/// A small element tree for the content of one <Value>.
private final class ValueElement {
    let name: String
    var text = ""
    var children: [ValueElement] = []

    init(name: String) { self.name = name }
}

/// The SAX side of the loader: one pass, every count and string bounded.
private final class NodeSetReader: NSObject, XMLParserDelegate {
    let file: String
    let limits: NodeSetLimits
    weak var parser: XMLParser?
    var error: NodeSetError?
    var namespaceUris: [String] = []
    var nodes: [Node] = []
    private var aliases: [String: String] = [:]
    private var path: [String] = []
    private var text = ""
    private var node: Node?
    private var reference: (type: String, isForward: Bool)?
    private var aliasName: String?
    private var valueStack: [ValueElement] = []
    private var valueRoot: ValueElement?
    private var valueElements = 0

    init(file: String, limits: NodeSetLimits, parser: XMLParser) {
        self.file = file
        self.limits = limits
        self.parser = parser
    }

    private func fail(_ message: String) {
        guard error == nil else { return }
        error = NodeSetError(file: file, line: parser?.lineNumber ?? 0, message: message)
        parser?.abortParsing()
    }

    private static func local(_ name: String) -> String {
        name.firstIndex(of: ":").map { String(name[name.index(after: $0)...]) } ?? name
    }

    /// An element still open at the end of the document.
    var openElement: String? { path.last }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        guard error == nil else { return }
        let name = Self.local(elementName)
        path.append(name)
        text = ""
        guard path.count <= limits.maxDepth else { return fail("elements nested deeper than \(limits.maxDepth)") }
        if valueRoot != nil || (name == "Value" && node != nil && path.count == 3) {
            valueElements += 1
            guard valueElements <= limits.maxValueElements else { return fail("a value of more than \(limits.maxValueElements) elements") }
            let element = ValueElement(name: name)
            if let parent = valueStack.last { parent.children.append(element) } else { valueRoot = element }
            valueStack.append(element)
            return
        }
        do {
            switch name {
            case "Alias": aliasName = attributes["Alias"]
            case "UAObject", "UAVariable", "UAMethod", "UAObjectType", "UAVariableType", "UAReferenceType", "UADataType", "UAView":
                guard nodes.count < limits.maxNodes else { return fail("more than \(limits.maxNodes) nodes") }
                node = try makeNode(name, attributes)
            case "Reference" where node != nil:
                reference = (attributes["ReferenceType"] ?? "", attributes["IsForward"].map { $0 != "false" } ?? true)
            default: break
            }
        } catch let e as NodeSetError {
            fail(e.message)
        } catch {
            fail("\(error)")
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard error == nil else { return }
        if let current = valueStack.last {
            guard current.text.utf8.count + string.utf8.count <= limits.maxTextBytes else { return fail("text longer than \(limits.maxTextBytes) bytes") }
            current.text += string
            return
        }
        guard text.utf8.count + string.utf8.count <= limits.maxTextBytes else { return fail("text longer than \(limits.maxTextBytes) bytes") }
        text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard error == nil else { return }
        let name = Self.local(elementName)
        // libxml2 recovers from some mismatched tags; a NodeSet with one is damaged all the same.
        guard path.last == name else { return fail("</\(name)> closes <\(path.last ?? "nothing")>") }
        defer { path.removeLast() }
        if valueRoot != nil {
            valueStack.removeLast()
            if valueStack.isEmpty, let root = valueRoot {
                node?.value = Self.variant(root.children.first)
                valueRoot = nil
                valueElements = 0
            }
            return
        }
        let content = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            switch name {
            case "Uri" where path.dropLast().last == "NamespaceUris": namespaceUris.append(content)
            case "Alias":
                if let aliasName { aliases[aliasName] = content }
            case "DisplayName" where node != nil && path.count == 3: node?.displayName = LocalizedText(text: content)
            case "Description" where node != nil && path.count == 3: node?.description = LocalizedText(text: content)
            case "InverseName" where node != nil && path.count == 3: node?.inverseName = LocalizedText(text: content)
            case "Reference" where reference != nil:
                guard (node?.references.count ?? 0) < limits.maxReferencesPerNode else { return fail("more than \(limits.maxReferencesPerNode) references") }
                let type = try nodeId(reference!.type)
                node?.references.append(Reference(type, isForward: reference!.isForward, try nodeId(content)))
                reference = nil
            case "UAObject", "UAVariable", "UAMethod", "UAObjectType", "UAVariableType", "UAReferenceType", "UADataType", "UAView":
                if let node { nodes.append(node) }
                node = nil
            default: break
            }
        } catch let e as NodeSetError {
            fail(e.message)
        } catch {
            fail("\(error)")
        }
        text = ""
    }

    private func nodeId(_ text: String) throws -> NodeId {
        let resolved = aliases[text] ?? text
        guard let id = NodeId(parsing: resolved) else { throw NodeSetError(file: file, line: parser?.lineNumber ?? 0, message: "bad NodeId \"\(text)\"") }
        return id
    }

    private func makeNode(_ element: String, _ a: [String: String]) throws -> Node {
        let nodeClass: NodeClass = switch element {
        case "UAObject": .object
        case "UAVariable": .variable
        case "UAMethod": .method
        case "UAObjectType": .objectType
        case "UAVariableType": .variableType
        case "UAReferenceType": .referenceType
        case "UADataType": .dataType
        default: .view
        }
        let id = try nodeId(a["NodeId"] ?? "")
        var node = Node(nodeId: id, nodeClass: nodeClass, browseName: QualifiedName(parsing: a["BrowseName"] ?? ""))
        if let v = a["DataType"] { node.dataType = try nodeId(v) }
        if let v = a["ValueRank"] { node.valueRank = Int32(v) ?? -1 }
        if let v = a["ArrayDimensions"] { node.arrayDimensions = v.split(separator: ",").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) } }
        if let v = a["AccessLevel"] { node.accessLevel = UInt8(v) }
        if let v = a["MinimumSamplingInterval"] { node.minimumSamplingInterval = Double(v) }
        if let v = a["Historizing"] { node.historizing = v == "true" }
        if let v = a["IsAbstract"] { node.isAbstract = v == "true" }
        if let v = a["Symmetric"] { node.symmetric = v == "true" }
        if let v = a["EventNotifier"] { node.eventNotifier = UInt8(v) }
        if let v = a["Executable"] { node.executable = v != "false" } else if nodeClass == .method { node.executable = true }
        return node
    }

    /// The built-in scalar types and their ListOf forms (Part 6 §5.3.1); nil for anything else.
    private static func variant(_ element: ValueElement?) -> Variant? {
        guard let element else { return nil }
        if element.name.hasPrefix("ListOf") {
            let typeName = String(element.name.dropFirst("ListOf".count))
            let elements = element.children.compactMap { scalar(typeName, $0) }
            guard elements.count == element.children.count, let type = builtInType(typeName) else { return nil }
            return .array(type: type, elements: elements)
        }
        return scalar(element.name, element).map(Variant.scalar)
    }

    private static func builtInType(_ name: String) -> BuiltInType? {
        switch name {
        case "Boolean": .boolean
        case "SByte": .sByte
        case "Byte": .byte
        case "Int16": .int16
        case "UInt16": .uInt16
        case "Int32": .int32
        case "UInt32": .uInt32
        case "Int64": .int64
        case "UInt64": .uInt64
        case "Float": .float
        case "Double": .double
        case "String": .string
        case "LocalizedText": .localizedText
        default: nil
        }
    }

    private static func scalar(_ type: String, _ e: ValueElement) -> Scalar? {
        let t = e.text.trimmingCharacters(in: .whitespacesAndNewlines)
        switch type {
        case "Boolean": return .boolean(t == "true" || t == "1")
        case "SByte": return Int8(t).map(Scalar.sByte)
        case "Byte": return UInt8(t).map(Scalar.byte)
        case "Int16": return Int16(t).map(Scalar.int16)
        case "UInt16": return UInt16(t).map(Scalar.uInt16)
        case "Int32": return Int32(t).map(Scalar.int32)
        case "UInt32": return UInt32(t).map(Scalar.uInt32)
        case "Int64": return Int64(t).map(Scalar.int64)
        case "UInt64": return UInt64(t).map(Scalar.uInt64)
        case "Float": return Float(t).map(Scalar.float)
        case "Double": return Double(t).map(Scalar.double)
        case "String": return .string(e.text)
        case "LocalizedText":
            let locale = e.children.first { $0.name == "Locale" }?.text
            let text = e.children.first { $0.name == "Text" }?.text
            return .localizedText(LocalizedText(locale: locale?.isEmpty == false ? locale : nil, text: text))
        default: return nil
        }
    }
}

extension NodeId {
    /// The XML and text form of Part 6 §5.3.1.10: `i=85`, `ns=1;i=5001`, `ns=2;s=cam-1`.
    public init?(parsing text: String) {
        var rest = Substring(text)
        var ns: UInt16 = 0
        if rest.hasPrefix("ns=") {
            guard let semicolon = rest.firstIndex(of: ";"), let n = UInt16(rest[rest.index(rest.startIndex, offsetBy: 3)..<semicolon]) else { return nil }
            ns = n
            rest = rest[rest.index(after: semicolon)...]
        }
        if rest.hasPrefix("i="), let v = UInt32(rest.dropFirst(2)) {
            self.init(namespaceIndex: ns, numeric: v)
        } else if rest.hasPrefix("s=") {
            self.init(namespaceIndex: ns, .string(String(rest.dropFirst(2))))
        } else {
            return nil
        }
    }
}

extension QualifiedName {
    /// `1:SystemState` or `Server`.
    init(parsing text: String) {
        if let colon = text.firstIndex(of: ":"), let ns = UInt16(text[..<colon]) {
            self.init(namespaceIndex: ns, name: String(text[text.index(after: colon)...]))
        } else {
            self.init(namespaceIndex: 0, name: text)
        }
    }
}

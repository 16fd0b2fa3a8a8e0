import Foundation

/// Encodes an `Encodable` value straight into a `JSONValue`, dates as `Timestamps.format` text.
///
/// Opening an incident encodes its work-order draft and its severity and priority for the
/// store and the audit trail. Through Foundation's `JSONEncoder` that was bytes, then (for the
/// audit) those bytes parsed back: about a third of an incident's opening in a profile. Values
/// that JSON numbers (`Double`) cannot hold exactly are refused with `Unsupported`, so a caller
/// can fall back to `JSONEncoder` for them: integers beyond ±2^53, `Float`, non-finite numbers.
public enum JSONValueEncoder {
    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try box(value, codingPath: [])
    }

    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let s as String: return .string(s)
        case let v as JSONValue: return v
        case let d as Date: return .string(Timestamps.format(d))
        case let d as Data: return .string(d.base64EncodedString())
        case let u as URL: return .string(u.absoluteString)
        case let b as Bool: return .bool(b)
        case let d as Double: return try number(d, codingPath)
        // Every integer type lands here, whichever container method it came through: the
        // generic `encode` stands in for the containers' Int8…UInt64 methods not written out.
        case let i as any BinaryInteger: return try integer(i, codingPath)
        case is Float, is Float16, is Decimal: throw Unsupported(description: "\(T.self) at \(path(codingPath)) is not encoded exactly as a Double")
        default:
            let node = Node()
            try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
            return node.value
        }
    }

    static func number(_ d: Double, _ codingPath: [any CodingKey]) throws -> JSONValue {
        guard d.isFinite else { throw Unsupported(description: "\(d) at \(path(codingPath)) is not a JSON number") }
        return .number(d)
    }

    /// 2^53: every integer up to it is a `Double` exactly.
    static let exactIntegers: ClosedRange<Int64> = -(1 << 53)...(1 << 53)

    static func integer(_ i: some BinaryInteger, _ codingPath: [any CodingKey]) throws -> JSONValue {
        guard let wide = Int64(exactly: i), exactIntegers.contains(wide) else {
            throw Unsupported(description: "\(i) at \(path(codingPath)) is beyond what a JSON number holds exactly")
        }
        return .number(Double(wide))
    }

    static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.isEmpty ? "the top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// What one `encode(to:)` call builds: a value, or a container its nested containers
    /// (classes, as they outlive the call that made them) write into.
    final class Node {
        enum Content {
            case empty
            case value(JSONValue)
            case object([String: Child])
            case array([Child])
        }

        enum Child {
            case value(JSONValue)
            case node(Node)

            var value: JSONValue {
                switch self {
                case .value(let v): v
                case .node(let n): n.value
                }
            }
        }

        var content = Content.empty

        var value: JSONValue {
            switch content {
            case .empty: .object([:]) // a type that encodes nothing, as JSONEncoder writes it nested
            case .value(let v): v
            case .object(let o): .object(o.mapValues(\.value))
            case .array(let a): .array(a.map(\.value))
            }
        }

        func makeObject() { if case .object = content { return }; content = .object([:]) }
        func makeArray() { if case .array = content { return }; content = .array([]) }

        func set(_ key: String, _ child: Child) {
            guard case .object(var o) = content else { return }
            content = .empty // keeps the dictionary uniquely referenced while it changes
            o[key] = child
            content = .object(o)
        }

        func append(_ child: Child) {
            guard case .array(var a) = content else { return }
            content = .empty
            a.append(child)
            content = .array(a)
        }

        var count: Int {
            if case .array(let a) = content { return a.count }
            return 0
        }
    }

    struct NodeEncoder: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            node.makeObject()
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            node.makeArray()
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { node.set(key.stringValue, .value(.null)) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { node.set(key.stringValue, .value(.bool(value))) }
        mutating func encode(_ value: String, forKey key: Key) throws { node.set(key.stringValue, .value(.string(value))) }
        mutating func encode(_ value: Double, forKey key: Key) throws { node.set(key.stringValue, .value(try number(value, codingPath + [key]))) }
        mutating func encode(_ value: Int, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { node.set(key.stringValue, .value(try integer(value, codingPath + [key]))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.set(key.stringValue, .value(try box(value, codingPath: codingPath + [key])))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            node.set(key.stringValue, .node(child))
            return NodeEncoder(node: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            node.set(key.stringValue, .node(child))
            return NodeEncoder(node: child, codingPath: codingPath + [key]).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

        private func superEncoder(named name: String) -> any Encoder {
            let child = Node()
            node.set(name, .node(child))
            return NodeEncoder(node: child, codingPath: codingPath)
        }
    }

    struct IndexKey: CodingKey {
        let intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { return nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.count }
        private var here: [any CodingKey] { codingPath + [IndexKey(count)] }

        init(node: Node, codingPath: [any CodingKey]) {
            self.node = node
            self.codingPath = codingPath
        }

        mutating func encodeNil() throws { node.append(.value(.null)) }
        mutating func encode(_ value: Bool) throws { node.append(.value(.bool(value))) }
        mutating func encode(_ value: String) throws { node.append(.value(.string(value))) }
        mutating func encode(_ value: Double) throws { node.append(.value(try number(value, here))) }
        mutating func encode(_ value: Int) throws { node.append(.value(try integer(value, here))) }
        mutating func encode(_ value: Int64) throws { node.append(.value(try integer(value, here))) }
        mutating func encode(_ value: UInt64) throws { node.append(.value(try integer(value, here))) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.append(.value(try box(value, codingPath: here))) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            let path = here
            node.append(.node(child))
            return NodeEncoder(node: child, codingPath: path).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            let path = here
            node.append(.node(child))
            return NodeEncoder(node: child, codingPath: path).unkeyedContainer()
        }

        mutating func superEncoder() -> any Encoder {
            let child = Node()
            let path = here
            node.append(.node(child))
            return NodeEncoder(node: child, codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode(_ value: Bool) throws { node.content = .value(.bool(value)) }
        mutating func encode(_ value: String) throws { node.content = .value(.string(value)) }
        mutating func encode(_ value: Double) throws { node.content = .value(try number(value, codingPath)) }
        mutating func encode(_ value: Int) throws { node.content = .value(try integer(value, codingPath)) }
        mutating func encode(_ value: Int64) throws { node.content = .value(try integer(value, codingPath)) }
        mutating func encode(_ value: UInt64) throws { node.content = .value(try integer(value, codingPath)) }
        mutating func encode<T: Encodable>(_ value: T) throws { node.content = .value(try box(value, codingPath: codingPath)) }
    }
}

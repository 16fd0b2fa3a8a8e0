import Foundation
import MillwrightCore
import Testing

/// `JSONValueEncoder` and the `RecordJSON` written through it, held to Foundation's
/// `JSONEncoder` (what they replaced on the incident-opening path).
@Suite struct JSONValueEncoderTests {
    static let at = Date(timeIntervalSince1970: 1_790_000_000.125)

    /// Foundation's encoding parsed: what `JSONValue.from` returned before.
    func foundation<T: Encodable>(_ v: T) throws -> JSONValue {
        try JSONValue.parse(Data(RecordJSON.foundation(v).utf8))
    }

    enum Mood: String, Codable { case calm, onEdge = "on edge" }

    struct Inner: Codable, Equatable {
        var name: String
        var at: Date?
    }

    /// Every container kind and value type a stored record can carry.
    struct Everything: Encodable {
        var text = "x\"y\\z\n\r\t\u{1}é/ 🔧"
        var flag = true
        var whole = 42
        var negative: Int64 = -(1 << 53)
        var small: Int8 = -7
        var unsigned: UInt16 = 65_535
        var big: UInt32 = 4_000_000_000
        var fraction = 0.1 + 0.2
        var tiny = 1e-7
        var huge = 1e300
        var negativeZero = -0.0
        var date = at
        var bytes = Data([0, 1, 2, 250, 255])
        var url = URL(string: "http://nvr.local/a%20b/1.jpg?x=1")!
        var mood = Mood.onEdge
        var missing: String?
        var present: String? = "here"
        var list = [1.5, -2, 3]
        var nested = [[Inner(name: "a", at: at)], []]
        var byName = ["b": 2, "a": 1]
        var byNumber = [3: "three", 1: "one"]
        var json: JSONValue = .object(["k": .array([.null, .bool(false), .number(2.5), .string("s")])])
        var empty: [String: Int] = [:]

        enum Extra: String, CodingKey { case explicitNull = "explicit_null", keyed, unkeyed, parent }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: DynamicKey.self)
            func put(_ value: some Encodable, _ key: String) throws { try c.encode(value, forKey: DynamicKey(key)) }
            try put(text, "text"); try put(flag, "flag"); try put(whole, "whole"); try put(negative, "negative")
            try put(small, "small"); try put(unsigned, "unsigned"); try put(big, "big"); try put(fraction, "fraction")
            try put(tiny, "tiny"); try put(huge, "huge"); try put(negativeZero, "negativeZero"); try put(date, "date")
            try put(bytes, "bytes"); try put(url, "url"); try put(mood, "mood"); try put(list, "list"); try put(nested, "nested")
            try put(byName, "byName"); try put(byNumber, "byNumber"); try put(json, "json"); try put(empty, "empty")
            try c.encodeIfPresent(missing, forKey: DynamicKey("missing"))
            try c.encodeIfPresent(present, forKey: DynamicKey("present"))
            var extra = encoder.container(keyedBy: Extra.self)
            try extra.encodeNil(forKey: .explicitNull)
            var keyed = extra.nestedContainer(keyedBy: DynamicKey.self, forKey: .keyed)
            try keyed.encode(true, forKey: DynamicKey("deep"))
            var unkeyed = extra.nestedUnkeyedContainer(forKey: .unkeyed)
            try unkeyed.encode(1)
            try unkeyed.encodeNil()
            var inList = unkeyed.nestedContainer(keyedBy: DynamicKey.self)
            try inList.encode("in a list", forKey: DynamicKey("where"))
            try Inner(name: "parent", at: nil).encode(to: extra.superEncoder(forKey: .parent))
        }
    }

    struct DynamicKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    @Test func everyContainerAndValueTypeComesOutAsFoundationWritesIt() throws {
        let ours = try JSONValueEncoder.encode(Everything())
        #expect(ours == (try foundation(Everything())))
        #expect(ours["date"] == .string(Timestamps.format(Self.at)), "dates as the store writes them")
        #expect(ours["bytes"] == .string("AAEC+v8="), "data as base64, Foundation's default")
        #expect(ours["explicit_null"] == .null && ours["missing"] == nil, "an explicit nil stays, an absent optional is left out")
        #expect(ours["by_number"] == nil && ours["byNumber"]?["3"] == .string("three"), "integer-keyed dictionaries are objects, as in Foundation")
    }

    @Test func topLevelValuesOfEachKind() throws {
        #expect(try JSONValueEncoder.encode("s") == .string("s"))
        #expect(try JSONValueEncoder.encode(Optional<Int>.none) == .null)
        #expect(try JSONValueEncoder.encode([Self.at]) == .array([.string(Timestamps.format(Self.at))]))
        #expect(try JSONValueEncoder.encode(Mood.calm) == .string("calm"))
        #expect(try JSONValueEncoder.encode(UInt8(200)) == .number(200))
    }

    /// JSON numbers are doubles here: a value a double cannot hold exactly is refused, and
    /// `RecordJSON` then writes it through Foundation, digit for digit.
    @Test(arguments: [
        Unrepresentable(value: .int64(Int64.max)), Unrepresentable(value: .uint64(UInt64.max)),
        Unrepresentable(value: .int64((1 << 53) + 1)), Unrepresentable(value: .float(0.1)),
        Unrepresentable(value: .double(.infinity)),
    ])
    func valuesADoubleCannotHoldAreRefusedAndWrittenByFoundation(_ v: Unrepresentable) throws {
        #expect(throws: JSONValueEncoder.Unsupported.self) { try JSONValueEncoder.encode(v) }
        #expect(RecordJSON.encode(v) == RecordJSON.foundation(v))
    }

    struct Unrepresentable: Encodable, Sendable, CustomTestStringConvertible {
        enum Value: Sendable { case int64(Int64), uint64(UInt64), float(Float), double(Double) }
        var value: Value
        var testDescription: String { "\(value)" }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: DynamicKey.self)
            switch value {
            case .int64(let v): try c.encode(v, forKey: DynamicKey("v"))
            case .uint64(let v): try c.encode(v, forKey: DynamicKey("v"))
            case .float(let v): try c.encode(v, forKey: DynamicKey("v"))
            case .double(let v): try c.encode(v, forKey: DynamicKey("v"))
            }
        }
    }

    /// The records an incident's opening stores: the work-order draft (its stored payload and
    /// the payload's hash in the audit trail) and the severity and priority in the audit data.
    @Test func anOpeningsDraftSeverityAndPriorityAreWrittenByteForByteAsBefore() throws {
        let cases = IncidentDecisionTests()
        let r = cases.rules(confirm: 1, inventory: true)
        var d = cases.detection(area: 40)
        d.zone = "head \"pulley\"\n2"
        d.measurements = ["length_mm": 12.5]
        let (_, m) = try cases.keyQuery(d, r)
        let e = IncidentDecision.open(d, id: "d-new", mapped: m, key: KeySnapshot(),
                                      opening: OpeningSnapshot(priorIncidents: 2, stock: ["BELT-1": StockLevel(free: 1, location: "B-12")]),
                                      ids: ("inc-1", "wo-1"), rules: r, now: cases.t0)
        let draft = try #require(e.workOrder?.draft)
        #expect(RecordJSON.encode(draft) == RecordJSON.foundation(draft))
        #expect(e.workOrder?.payload == RecordJSON.foundation(draft))
        let incident = try #require(e.incident)
        #expect(RecordJSON.encode(incident.severity) == RecordJSON.foundation(incident.severity))
        #expect(JSONValue.from(incident.severity) == (try foundation(incident.severity)))
        #expect(JSONValue.from(incident.priority) == (try foundation(incident.priority)))
    }

    @Test func aWorkOrderReferenceIsTheIncidentIdWithoutDashesUppercased() {
        #expect(WorkOrderComposer.reference(incidentId: "0f3a-9b2c-77de-a1b2-c3d4") == "MW-0F3A9B2C77DE")
        #expect(WorkOrderComposer.reference(incidentId: "ab") == "MW-AB")
    }
}

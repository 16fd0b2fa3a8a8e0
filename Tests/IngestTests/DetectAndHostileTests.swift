import Foundation
import Testing
import MillwrightCore
@testable import Ingest

@Suite struct AutoDetectTests {
    @Test(arguments: [
        ("deepstream/full_framemeta_crack.json", VisionFormat.deepstream),
        ("deepstream/full_eventmsg_vehicle.json", .deepstream),
        ("deepstream/minimal_with_confidence.json", .deepstream),
        ("frigate/events_update_docs-HEAD-e3fa7018.json", .frigate),
        ("frigate/events_new_v0.12_crack.json", .frigate),
        ("frigate/reviews_update_docs-HEAD-e3fa7018.json", .frigate),
        ("ultralytics/detect.json", .ultralytics),
        ("ultralytics/classify.json", .ultralytics),
        ("ultralytics/batch_per_image.json", .ultralytics),
        ("roboflow/hosted_object_detection.json", .roboflow),
        ("roboflow/multilabel.json", .roboflow),
        ("landinglens/cloud_object_detection.json", .landinglens),
        ("landinglens/edge_object_detection.json", .landinglens),
        ("landinglens/classification.json", .landinglens),
        ("coco/results.json", .coco),
        ("coco/dataset_wrapper.json", .coco),
        ("native/single.json", .native),
        ("native/batch_mixed.json", .native),
    ])
    func detectsEachFormat(path: String, expected: VisionFormat) throws {
        #expect(Adapters.detect(try fixture(path)) == expected)
    }

    @Test func arrayOfWholePayloads() throws {
        let a = try fixture("roboflow/hosted_object_detection.json"), b = try fixture("roboflow/multilabel.json")
        let (format, results) = Adapters.decodeWithFormat(.array([a, b]), format: nil, context: context(camera: "CAM-07"))
        #expect(format == .roboflow)
        #expect(detections(results).count == 5)
    }

    @Test func ambiguousPayloadsAskForFormat() throws {
        let cases = [
            #"{"hello": "world"}"#,
            #"[{"name":"crack","confidence":0.9,"class":0}, {"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":0.5}]"#,
            #"[1, 2, 3]"#,
            #""just a string""#,
            #"42"#,
            #"null"#,
        ]
        for c in cases {
            let payload = try json(c)
            #expect(Adapters.detect(payload) == nil, "\(c)")
            let results = Adapters.decode(payload, format: nil, context: context(camera: "CAM-07"))
            let p = try #require(results.first?.problem, "\(c)")
            #expect(results.count == 1)
            #expect(p.problem.problem.contains("?format="))
        }
        #expect(Adapters.decode(try json("[]"), format: nil, context: context()).isEmpty)
    }

    @Test func explicitFormatOverridesDetection() throws {
        // A Roboflow response forced through the Frigate adapter fails cleanly.
        let results = Adapters.decode(try fixture("roboflow/hosted_object_detection.json"), format: .frigate, context: context(camera: "CAM-07"))
        #expect(results.count == 1 && results[0].problem?.kind == .invalid)
    }
}

@Suite struct HostileInputTests {
    @Test func wrongTypesEverywhere() throws {
        let values: [JSONValue] = [.null, .bool(true), .number(-1), .number(1e308), .string("NaN"), .string(""), .array([]), .object([:])]
        for format in VisionFormat.allCases {
            for v in values {
                let results = Adapters.decode(v, format: format, context: context(camera: "CAM-07"))
                for r in results { if let d = r.detection { Issue.record("\(format) made a detection from \(v): \(d)") } }
            }
        }
    }

    @Test func hugeArraysAreRefusedWholesale() throws {
        let item = JSONValue.object(["name": .string("crack"), "confidence": .number(0.9), "class": .number(0)])
        let payload = JSONValue.array(Array(repeating: item, count: 10_001))
        let results = Adapters.decode(payload, format: .ultralytics, context: context(camera: "CAM-07"))
        #expect(results.count == 1)
        #expect(results[0].problem?.problem.problem.contains("10000") == true)
        let native = JSONValue.array(Array(repeating: .object([:]), count: 20_000))
        #expect(Adapters.decode(native, format: .native, context: context()).count == 1)
        let minimal = JSONValue.object(["version": .string("4.0"), "@timestamp": .string("2026-11-21T02:14:00Z"), "sensorId": .string("C"),
                                        "objects": .array(Array(repeating: .string("1|1|1|2|2|crack|#|0.9"), count: 10_001))])
        #expect(Adapters.decode(minimal, format: .deepstream, context: context()).count == 1)
    }

    @Test func absurdNumbersAndStrings() throws {
        let long = String(repeating: "A", count: 100_000)
        let cases = [
            #"[{"name":"crack","confidence":0.9,"box":{"x1":-1e308,"y1":0,"x2":1e308,"y2":5}}]"#,
            #"[{"name":"\#(long)","confidence":0.9}]"#,
            #"[{"name":"crack\u0000","confidence":0.9}]"#,
            #"[{"name":"crack","confidence":0.9,"track_id":"\#(long)"}]"#,
            #"[{"name":"crack","confidence":1e-300}]"#,
            #"[{"name":"crack","confidence":-0}]"#,
        ]
        let results = try cases.map { Adapters.decode(try json($0), format: .ultralytics, context: context(camera: "CAM-07")) }
        #expect(results[0].first?.problem != nil)
        #expect(results[1].first?.problem != nil)
        #expect(results[2].first?.problem != nil)
        #expect(results[3].first?.detection?.trackingId?.count == 33)   // overlong tracker id kept as a hash
        #expect(results[4].first?.detection != nil)   // tiny but valid
        #expect(results[5].first?.detection != nil)
    }

    @Test func timestampsInTheFutureOrAncient() throws {
        let future = #"{"version":"4.0","id":1,"@timestamp":"2027-01-01T00:00:00Z","sensorId":"C","objects":["1|1|1|5|5|crack|#|0.9"]}"#
        let ancient = #"{"version":"4.0","id":1,"@timestamp":"1970-01-02T00:00:00Z","sensorId":"C","objects":["1|1|1|5|5|crack|#|0.9"]}"#
        #expect(Adapters.decode(try json(future), format: nil, context: context()).first?.problem?.problem.field == "timestamp")
        #expect(Adapters.decode(try json(ancient), format: nil, context: context()).first?.problem?.problem.field == "timestamp")
    }

    /// Regression (found by a long fuzz run): epoch 1e300 parses as a Date and made
    /// `DetectionValidator` trap on `Int(skew)`. Must be a problem, not a crash.
    @Test func absurdEpochTimestampsDoNotTrap() throws {
        let cases: [(String, VisionFormat)] = [
            (#"{"camera_id":"C","timestamp":1e300,"defect_class":"crack","confidence":0.9}"#, .native),
            (#"{"type":"new","after":{"id":"x","camera":"c","label":"crack","top_score":0.9,"frame_time":1e300}}"#, .frigate),
            (#"[{"name":"crack","confidence":0.9,"timestamp":1.7e308}]"#, .ultralytics),
            (#"[{"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":0.9,"timestamp":1e19}]"#, .coco),
        ]
        for (text, format) in cases {
            let p = try #require(Adapters.decode(try json(text), format: format, context: context(camera: "C")).first?.problem, "\(format)")
            // The field at fault is named where the payload has it (e.g. `after.frame_time`).
            let field = p.problem.field ?? ""
            #expect(field.hasSuffix("timestamp") || field.hasSuffix("frame_time"), "\(format): \(field)")
        }
    }

    @Test func deepNestingAndGarbageBytes() throws {
        let deep = Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
        let r = Adapters.decode(deep, format: nil, context: context())
        #expect(r.count <= 1)
        let garbage = Data([0xff, 0xfe, 0x00, 0x7b, 0x22])
        #expect(Adapters.decode(garbage, format: .frigate, context: context()).first?.problem != nil)
    }
}

@Suite struct FuzzTests {
    /// SplitMix64: deterministic across platforms and runs.
    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let corpus = [
        "deepstream/full_framemeta_crack.json", "deepstream/minimal_with_confidence.json", "deepstream/full_unset_confidence.json",
        "frigate/events_update_docs-HEAD-e3fa7018.json", "frigate/events_new_v0.12_crack.json", "frigate/reviews_update_docs-HEAD-e3fa7018.json",
        "ultralytics/detect.json", "ultralytics/obb.json", "ultralytics/batch_per_image.json", "roboflow/hosted_object_detection.json",
        "roboflow/multilabel.json", "landinglens/cloud_object_detection.json", "landinglens/edge_object_detection.json",
        "coco/results.json", "coco/dataset_wrapper.json", "native/single.json", "native/batch_mixed.json",
    ]

    static let tokens: [String] = [
        "null", "true", "false", "0", "-0.1", "1e308", "-1e308", "NaN", "\"\"", "[]", "{}", "\"|#|\"", "\"nan\"", "18446744073709551615",
        "0.5", "\"2026-11-21T02:14:00Z\"", "[1,2,3,4]", "{\"x1\":1}", "\"\\u0000\"", "99999999999999999999999", "1e-400",
    ]

    @Test func fuzzEntryNeverTraps() throws {
        var rng = Rng(state: 0x5EED_2026_1121)
        // INGEST_FUZZ_SCALE=50 swift test --filter FuzzTests  runs a longer campaign locally.
        let scale = max(1, Int(ProcessInfo.processInfo.environment["INGEST_FUZZ_SCALE"] ?? "") ?? 1)
        let seeds = try Self.corpus.map { try fixtureData($0) }
        var runs = 0
        // Byte-level mutations of real payloads.
        for _ in 0..<(1_500 * scale) {
            var bytes = [UInt8](seeds[Int.random(in: 0..<seeds.count, using: &rng)])
            for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: Array(Self.tokens.randomElement(using: &rng)!.utf8), at: at)
                case 3: bytes = Array(bytes[..<at])
                default: bytes.insert(bytes[at], at: at)
                }
            }
            fuzzAdapters(Data(bytes)); runs += 1
        }
        // Structure-aware mutations: replace values in parsed payloads with hostile ones.
        let parsed = try Self.corpus.map { try fixture($0) }
        for _ in 0..<(1_500 * scale) {
            var v = parsed[Int.random(in: 0..<parsed.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) { v = Self.mutate(v, &rng, depth: 0) }
            var text = ""
            Canonical.write(v, into: &text)
            fuzzAdapters(Data(text.utf8)); runs += 1
        }
        // Pure noise.
        for _ in 0..<(200 * scale) {
            let n = Int.random(in: 0...64, using: &rng)
            fuzzAdapters(Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })); runs += 1
        }
        #expect(runs == 3_200 * scale)
    }

    static func hostileValue(_ rng: inout Rng) -> JSONValue {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number([-0.1, 0, 1, 1e308, -1e308, 0.5, 1.0000001, .leastNonzeroMagnitude, 1e15, -7].randomElement(using: &rng)!)
        case 3: return .string(["", "NaN", "inf", "1|2|3|4|5|x|#|0.9", "2026-11-21T02:14:00Z", "\u{0}", String(repeating: "x", count: 300)].randomElement(using: &rng)!)
        case 4: return .array([])
        case 5: return .object([:])
        case 6: return .array([.number(1), .number(2), .number(3), .number(4)])
        case 7: return .array(Array(repeating: .number(1), count: Int.random(in: 0...50, using: &rng)))
        case 8: return .object(["confidence": .number(0.9), "class": .string("crack")])
        default: return .number(Double(Int.random(in: -5_000...5_000, using: &rng)))
        }
    }

    static func mutate(_ v: JSONValue, _ rng: inout Rng, depth: Int) -> JSONValue {
        switch v {
        case .object(var o) where !o.isEmpty && depth < 6:
            let key = o.keys.sorted().randomElement(using: &rng)!
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: o[key] = hostileValue(&rng)
            case 1: o[key] = nil
            default: o[key] = mutate(o[key]!, &rng, depth: depth + 1)
            }
            return .object(o)
        case .array(var a) where !a.isEmpty && depth < 6:
            let i = Int.random(in: 0..<a.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: a[i] = hostileValue(&rng)
            case 1: a.remove(at: i)
            case 2: a.append(a[i])
            default: a[i] = mutate(a[i], &rng, depth: depth + 1)
            }
            return .array(a)
        default:
            return Int.random(in: 0..<3, using: &rng) == 0 ? v : hostileValue(&rng)
        }
    }
}

@Suite struct IdempotencyTests {
    static let fixtures = [
        "deepstream/full_framemeta_crack.json", "deepstream/full_eventmsg_vehicle.json", "deepstream/minimal_with_confidence.json",
        "frigate/events_update_docs-HEAD-e3fa7018.json", "frigate/events_new_v0.12_crack.json",
        "ultralytics/detect.json", "ultralytics/batch_per_image.json", "ultralytics/classify.json",
        "roboflow/hosted_object_detection.json", "roboflow/inference_server_no_detection_ids.json", "roboflow/classification.json",
        "roboflow/multilabel.json", "landinglens/cloud_object_detection.json", "landinglens/edge_object_detection.json",
        "landinglens/classification.json", "coco/results.json", "coco/dataset_wrapper.json",
    ]

    /// Redelivery of the same message, seconds later, gives the same detection ids; every
    /// non-native detection gets an id, and ids within one payload are distinct.
    @Test(arguments: fixtures)
    func sameMessageSameIds(path: String) throws {
        let payload = try fixture(path)
        let first = detections(Adapters.decode(payload, format: nil, context: context(camera: "CAM-07")))
        let again = detections(Adapters.decode(payload, format: nil, context: context(camera: "CAM-07", at: receivedAt + 42)))
        #expect(!first.isEmpty)
        #expect(first.map(\.detectionId) == again.map(\.detectionId))
        let ids = first.compactMap(\.detectionId)
        #expect(ids.count == first.count)
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count <= DetectionValidator.maxIdBytes })
    }

    @Test func overlongSourceIdsAreHashed() throws {
        let longId = String(repeating: "e", count: 200)
        let text = #"{"type":"new","after":{"id":"\#(longId)","camera":"c","label":"crack","top_score":0.9,"frame_time":1795227240}}"#
        let d = try #require(detections(Adapters.decode(try json(text), format: .frigate, context: context())).first)
        #expect(d.detectionId?.hasPrefix("frigate:h") == true)
        #expect(d.detectionId?.count == 41)
        let again = try #require(detections(Adapters.decode(try json(text), format: .frigate, context: context())).first)
        #expect(again.detectionId == d.detectionId)
        #expect(d.trackingId == "h" + StableID.hash(longId))
    }
}

import Foundation
import MillwrightCore
import Testing

/// The hand-written JSON writers on the ingest path against what they replaced.
@Suite struct RecordJSONTests {
    static let at = Date(timeIntervalSince1970: 1_790_000_000.123)

    @Test func canonicalAuditJSONIsByteForByteWhatStoredChainsWereHashedWith() {
        let json = AuditRecord.canonicalJSON(seq: 7, at: Self.at, kind: "detection.decided", subject: "d-1", data: [
            "b": .string("x\"y\\z\n\r\t\u{1}é/"), "a": .number(1), "é": .bool(true), "Z": .number(2.5), "n": .null,
            "list": .array([.number(-3), .string("")]),
        ])
        let expected = #"{"at":"\#(Timestamps.format(Self.at))","data":{"Z":2.5,"a":1,"b":"x\"y\\z\n\r\t\u0001é/","list":[-3,""],"n":null,"é":true},"#
            + #""kind":"detection.decided","seq":7,"subject":"d-1"}"#
        #expect(String(decoding: json, as: UTF8.self) == expected)
    }

    /// Every ASCII character, escaped by the rule stored chains were hashed with: the short
    /// forms for the quote, the backslash, line feed, carriage return and tab, `\\u00` and two
    /// lowercase hex digits for the other control characters, everything else as it is.
    @Test func everyASCIICharacterIsEscapedByTheRuleStoredChainsWereHashedWith() {
        for byte in UInt8(0)..<0x80 {
            let hex = String(byte, radix: 16)
            let expected = switch byte {
            case UInt8(ascii: "\""): #"\""#
            case UInt8(ascii: "\\"): #"\\"#
            case UInt8(ascii: "\n"): #"\n"#
            case UInt8(ascii: "\r"): #"\r"#
            case UInt8(ascii: "\t"): #"\t"#
            case ..<0x20: #"\u00"# + (hex.count == 1 ? "0" + hex : hex)
            default: String(UnicodeScalar(byte))
            }
            var out = ""
            CanonicalJSON.writeString(String(UnicodeScalar(byte)) + "é🔧", into: &out)
            #expect(out == "\"" + expected + "é🔧\"", "byte \(byte)")
        }
    }

    static let full = Detection(detectionId: "d-1", cameraId: "CAM \"7\"", timestamp: at, defectClass: "crack", confidence: 0.87,
                                bbox: BoundingBox(x: 1, y: 2.5, width: 30, height: 40), image: ImageRef(width: 1920, height: 1080, url: "http://nvr/1.jpg"),
                                zone: "head\npulley", productionOrder: "PO-1", shift: "B", model: ModelInfo(name: "yolo", version: nil),
                                measurements: ["length_mm": 12.5, "width_mm": 3], trackingId: "t-9", sourceLabel: "Crack", sourceFormat: "native")

    @Test(arguments: [full, Detection(cameraId: "C", timestamp: at, defectClass: "rust", confidence: 1)])
    func recordJSONSaysWhatTheCodableEncodingSays(_ d: Detection) throws {
        var d = d
        d.frameSHA256 = d.bbox == nil ? nil : "ab12"
        let ours = try JSONValue.parse(Data(d.recordJSON.utf8))
        let codable = try JSONValue.parse(Data(RecordJSON.encode(d).utf8))
        #expect(ours == codable)
    }
}

import Foundation
import MillwrightCore
import Testing

/// The hand-written parser behind `JSONValue.parse`: strict RFC 8259, and the same values as the
/// `JSONDecoder` + Codable path it replaced.
@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    func problem(_ bytes: Data) -> String? {
        do { _ = try JSONValue.parse(bytes); return nil } catch { return error.problem }
    }

    static func decoder(_ bytes: Data) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: bytes) }

    @Test func validDocuments() throws {
        let cases: [(String, JSONValue)] = [
            ("null", .null), ("true", .bool(true)), ("false", .bool(false)),
            ("0", .number(0)), ("-0", .number(-0.0)), ("42", .number(42)), ("-17", .number(-17)),
            ("3.25", .number(3.25)), ("1e3", .number(1000)), ("1E+3", .number(1000)), ("25e-1", .number(2.5)),
            ("0.1", .number(0.1)), ("-0.0e5", .number(-0.0)), ("1.7976931348623157e308", .number(1.7976931348623157e308)),
            ("5e-324", .number(.leastNonzeroMagnitude)), ("9007199254740993", .number(9007199254740992)),
            ("123456789012345678901234567890", .number(1.2345678901234568e29)), ("0.30000000000000004", .number(0.30000000000000004)),
            // RFC 8259 numbers that JSONDecoder refused (a bug in its handling of zero with an exponent).
            ("0e5", .number(0)), ("-0.0e1", .number(-0.0)), ("0.00e-5", .number(0)),
            ("\"\"", .string("")), ("\"plain\"", .string("plain")), ("\"Grüße 🔧\"", .string("Grüße 🔧")),
            (#""\" \\ \/ \b \f \n \r \t""#, .string("\" \\ / \u{08} \u{0C} \n \r \t")),
            (#""\u0041\u00e9\u20AC\ud83d\udd27\u0000""#, .string("Aé€🔧\u{0}")),
            ("\"\u{7F}\"", .string("\u{7F}")),
            ("[]", .array([])), ("{}", .object([:])), (" \t\r\n[ 1 , \"a\" , null ] \n", .array([.number(1), .string("a"), .null])),
            (#"{"a": {"b": [true, {"c": -1.5}]}, "d": []}"#,
             .object(["a": .object(["b": .array([.bool(true), .object(["c": .number(-1.5)])])]), "d": .array([])])),
            // A repeated key keeps its first value, as the JSONDecoder path did.
            (#"{"k": 1, "k": 2}"#, .object(["k": .number(1)])),
            ("\u{FEFF}{\"bom\": true}", .object(["bom": .bool(true)])),
            (String(repeating: "[", count: 512) + String(repeating: "]", count: 512), (1..<512).reduce(JSONValue.array([])) { v, _ in .array([v]) }),
        ]
        for (text, expected) in cases {
            let value = try parse(text)
            #expect(value == expected, "\(text)")
            if case .number(let n) = expected, n == 0 { #expect(value.doubleValue?.sign == n.sign, "\(text)") }
        }
    }

    @Test func invalidDocuments() {
        let cases: [(String, String)] = [
            ("", "unexpected end of input, expected a value at byte 0"),
            ("   ", "unexpected end of input, expected a value at byte 3"),
            ("x", "unexpected character 'x', expected a value at byte 0"),
            ("1 x", "unexpected character 'x', expected end of input after the value at byte 2"),
            ("{} {}", "expected end of input after the value at byte 3"),
            ("01", "leading zero at byte 0"), ("-01", "leading zero at byte 0"), ("+1", "unexpected character '+'"),
            ("1.", "expected a digit after '.' at byte 2"), (".5", "unexpected character '.'"), ("1e", "digit in the exponent at byte 2"),
            ("1e+", "digit in the exponent at byte 3"), ("-", "expected a digit at byte 1"), ("- 1", "expected a digit at byte 1"),
            ("NaN", "unexpected character 'N'"), ("Infinity", "unexpected character 'I'"), ("-Infinity", "expected a digit at byte 1"),
            ("1e400", "number 1e400 is out of range at byte 0"), ("-1e400", "out of range"), ("1e-400", "number 1e-400 is too small"),
            ("[1e99999999999999999999]", "out of range at byte 1"),
            // JSONDecoder accepted these, as it never reads the value a repeated key drops.
            (#"{"a": 1, "a": 1e400}"#, "out of range at byte 14"), (#"{"a": 1, "a": "\x"}"#, "invalid escape at byte 15"),
            ("tru", "invalid literal, expected 'true' at byte 0"), ("nul", "expected 'null'"), ("True", "unexpected character 'T'"),
            ("\"abc", "unterminated string starting at byte 0"), ("[\"a\\", "unterminated escape at byte 3"),
            ("\"a\u{01}\"", "unescaped control character 0x1 in string at byte 2"), ("\"\t\"", "unescaped control character 0x9"),
            (#""\x""#, "invalid escape at byte 1"), (#""\u12G4""#, "invalid hex digit in \\u escape at byte 5"), (#""\u12""#, "incomplete \\u escape"),
            (#""\ud800""#, "unpaired high surrogate"), (#""\udc00\ud800""#, "unpaired low surrogate"),
            (#""\ud800\u0041""#, "not followed by a low one"), (#""\ud800x""#, "unpaired high surrogate"),
            ("[1,]", "unexpected character ']', expected a value at byte 3"), ("{\"a\":1,}", "expected a string key at byte 7"),
            ("[1 2]", "expected ',' or ']' at byte 3"), ("{\"a\" 1}", "expected ':' at byte 5"), ("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
            ("{a:1}", "expected a string key"), ("['a']", "unexpected character '''"), ("[1", "unexpected end of input, expected ',' or ']' at byte 2"),
            ("{\"a\":", "unexpected end of input, expected a value at byte 5"), ("//c\n1", "unexpected character '/'"),
            ("\u{0B}1", "unexpected byte 0xB"), ("\u{A0}1", "unexpected byte 0xC2"),
            ("\u{FEFF}\u{FEFF}1", "unexpected byte 0xEF, expected a value at byte 3"),
            (String(repeating: "[", count: 513) + String(repeating: "]", count: 513), "nesting deeper than 512 levels at byte 512"),
        ]
        for (text, expected) in cases {
            let message = problem(Data(text.utf8))
            #expect(message?.hasPrefix("body is not valid JSON: ") == true && message?.contains(expected) == true, "\(text.debugDescription): \(message ?? "accepted")")
        }
    }

    @Test func invalidBytes() {
        let cases: [([UInt8], String)] = [
            ([0x22, 0xFF, 0x22], "invalid UTF-8 at byte 1"), ([0x22, 0xC0, 0x80, 0x22], "invalid UTF-8"),
            ([0x22, 0xE0, 0x80, 0x80, 0x22], "invalid UTF-8"), ([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8"),
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8"), ([0x22, 0x61, 0xC3, 0x22], "invalid UTF-8 at byte 2"),
            ([0x22, 0xE2, 0x82], "invalid UTF-8"), ([0x31, 0x00], "unexpected byte 0x0"),
            // UTF-16 with a byte order mark: JSONDecoder transcoded it, RFC 8259 allows only UTF-8.
            ([0xFF, 0xFE, 0x31, 0x00], "unexpected byte 0xFF"),
        ]
        for (bytes, expected) in cases {
            let message = problem(Data(bytes))
            #expect(message?.contains(expected) == true, "\(bytes): \(message ?? "accepted")")
        }
        #expect(problem(Data([0x22, 0xF0, 0x9F, 0x94, 0xA7, 0x22])) == nil)
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        for open in ["[", "{\"a\":"] {
            let message = problem(Data(String(repeating: open, count: 100_000).utf8))
            #expect(message?.contains("nesting deeper than 512 levels") == true)
        }
    }

    /// Every JSON fixture in the repository decodes to the same value both ways.
    @Test func fixturesMatchJSONDecoder() throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        var checked = 0
        for folder in ["IngestTests/Fixtures", "Fixtures"] {
            guard let files = FileManager.default.enumerator(at: tests.appendingPathComponent(folder), includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in files where url.pathExtension == "json" {
                let data = try Data(contentsOf: url)
                let expected = try JSONDecoder().decode(JSONValue.self, from: data)
                #expect(try JSONValue.parse(data) == expected, "\(url.lastPathComponent)")
                checked += 1
            }
        }
        #expect(checked >= 30)
    }

    /// Generated documents (numbers of every shape, escapes, astral characters, odd whitespace)
    /// parse to the same value as with JSONDecoder, or both refuse them (numbers out of range).
    @Test func randomDocumentsMatchJSONDecoder() {
        var generator = RandomJSON(seed: 0x6A73_6F6E)
        var accepted = 0
        for _ in 0..<3_000 {
            let data = Data(generator.document().utf8)
            let ours = try? JSONValue.parse(data)
            #expect(ours == Self.decoder(data), "\(String(decoding: data, as: UTF8.self))")
            if ours != nil { accepted += 1 }
        }
        #expect(accepted > 2_000)
    }

    /// Random byte mutations of valid documents: both parsers accept or refuse the same inputs,
    /// except where JSONDecoder is laxer than RFC 8259 (trailing commas; UTF-16/32 input, which it
    /// detects from zero bytes or a byte order mark at the start) and this parser refuses, or
    /// where JSONDecoder refuses a zero with an exponent.
    @Test func mutatedDocumentsAgreeWithJSONDecoder() {
        var generator = RandomJSON(seed: 42)
        var rng = SplitMix64(seed: 7)
        let interesting: [UInt8] = Array("{}[]\",:\\/-+.eE0159tfnu \t\r\n".utf8) + [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
        var known = 0
        for _ in 0..<3_000 {
            var bytes = Array(generator.document(maxDepth: 3).utf8)
            for _ in 0...Int(rng.next() % 3) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = interesting[Int(rng.next() % UInt64(interesting.count))]
                case 1: bytes.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: at)
                case 2: bytes.remove(at: at)
                default: bytes.removeSubrange(at...)
                }
            }
            let data = Data(bytes)
            let ours = try? JSONValue.parse(data)
            let theirs = Self.decoder(data)
            if ours == nil, theirs != nil, Self.jsonDecoderIsLaxer(bytes) { known += 1; continue }
            if ours != nil, theirs == nil, Self.hasZeroWithExponent(bytes) { known += 1; continue }
            #expect(ours == theirs, "\(bytes)")
        }
        #expect(known < 300)
    }

    static func hasZeroWithExponent(_ bytes: [UInt8]) -> Bool {
        String(decoding: bytes, as: UTF8.self).contains(#/(^|[^0-9.eE+\-])-?0(\.0+)?[eE]/#)
    }

    static func jsonDecoderIsLaxer(_ bytes: [UInt8]) -> Bool {
        let trailingComma = bytes.indices.contains { i in
            bytes[i] == UInt8(ascii: ",") && bytes[(i + 1)...].first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }.map { $0 == UInt8(ascii: "]") || $0 == UInt8(ascii: "}") } == true
        }
        let otherEncoding = bytes.prefix(4).contains(0) || bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF])
        return trailingComma || otherEncoding
    }

    /// What callers rely on: re-encoding a parsed value canonically parses back to the same value.
    @Test func canonicalRoundTrip() throws {
        var generator = RandomJSON(seed: 99)
        for _ in 0..<500 {
            guard let value = try? JSONValue.parse(Data(generator.document().utf8)) else { continue }
            var text = ""
            CanonicalJSON.write(value, into: &text)
            #expect(try JSONValue.parse(Data(text.utf8)) == value, "\(text)")
        }
    }
}

/// Seeded generator of JSON text that exercises the grammar, written with random spacing.
struct RandomJSON {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

    mutating func document(maxDepth: Int = 5) -> String {
        space() + value(depth: maxDepth) + space()
    }

    mutating func space() -> String {
        below(3) == 0 ? String((0..<below(3)).map { _ in [" ", "\t", "\r\n", "\n"][below(4)] }.joined()) : ""
    }

    mutating func value(depth: Int) -> String {
        switch below(depth > 0 ? 8 : 5) {
        case 0: return ["null", "true", "false"][below(3)]
        case 1, 2: return number()
        case 3, 4: return string()
        case 5, 6:
            return "[" + (0..<below(5)).map { _ in space() + value(depth: depth - 1) + space() }.joined(separator: ",") + "]"
        default:
            // Keys end in their index: JSONDecoder never looks at the value of a repeated key, so
            // with repeats it would accept what it cannot read (see `invalidDocuments`).
            return "{" + (0..<below(5)).map { i in space() + string(maxLength: 2, suffix: "#\(i)") + space() + ":" + space() + value(depth: depth - 1) }
                .joined(separator: ",") + space() + "}"
        }
    }

    mutating func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(below(10))) }) }

    mutating func number() -> String {
        let sign = below(3) == 0 ? "-" : ""
        let integer = [0, 1].contains(below(4)) ? String(below(2) == 0 ? 0 : below(1_000)) : String(1 + below(9)) + digits(below(25))
        let fraction = below(2) == 0 ? "." + digits(1 + below(below(2) == 0 ? 3 : 20)) : ""
        // JSONDecoder refuses some zeros with an exponent (see `validDocuments`), so zero gets none.
        guard below(3) == 0, (integer + fraction).contains(where: { "123456789".contains($0) }) else { return sign + integer + fraction }
        return sign + integer + fraction + ["e", "E"][below(2)] + ["", "+", "-"][below(3)] + String(below(4) == 0 ? below(400) : below(30))
    }

    mutating func string(maxLength: Int = 12, suffix: String = "") -> String {
        var text = "\""
        for _ in 0..<below(maxLength + 1) {
            switch below(10) {
            case 0: text += ["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"][below(8)]
            case 1: text += String(format: "\\u%04x", [0x0, 0x1F, 0x41, 0xE9, 0x7FF, 0x800, 0x20AC, 0xFFFD, 0xFFFF][below(9)])
            case 2: text += ["\\ud83d\\udd27", "\\uD800\\uDC00", "\\udbff\\udfff"][below(3)]
            case 3: text += ["é", "€", "🔧", "\u{7F}", "\u{10FFFF}", "日本"][below(6)]
            default:
                let ascii = UInt8(0x20 + below(0x5F))
                text += ascii == UInt8(ascii: "\"") || ascii == UInt8(ascii: "\\") ? "q" : String(Unicode.Scalar(ascii))
            }
        }
        return text + suffix + "\""
    }
}

import Foundation

/// Strict RFC 8259 parser over UTF-8 bytes that builds `JSONValue` directly. It replaces
/// `JSONDecoder` + Codable on the ingest path, whose per-value `try?` cascade cost most of the
/// time. Containers live on an explicit stack (never recursion), so hostile nesting cannot
/// overflow the thread's stack; like Foundation it refuses more than 512 levels.
struct JSONParser {
    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    /// Finished values of every open container, innermost last; a frame owns `values[valueStart...]`.
    private var values: [JSONValue] = []
    /// Keys of every open object, parallel to that object's values.
    private var keys: [String] = []
    private var frames: [Frame] = []

    private struct Frame {
        let isObject: Bool
        let valueStart: Int
        let keyStart: Int
    }

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func parse(_ data: Data) throws(FieldProblem) -> JSONValue {
        let result: Result<JSONValue, FieldProblem> = data.withUnsafeBytes { raw in
            var parser = JSONParser(raw.assumingMemoryBound(to: UInt8.self))
            do throws(FieldProblem) { return .success(try parser.document()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func fail(_ what: String, at offset: Int) -> FieldProblem {
        FieldProblem(field: nil, "body is not valid JSON: \(what) at byte \(offset)")
    }

    private func unexpected(_ expecting: String) -> FieldProblem {
        guard pos < bytes.count else { return fail("unexpected end of input, expected \(expecting)", at: pos) }
        let b = bytes[pos]
        let shown = (0x21..<0x7F).contains(b) ? "character '\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16, uppercase: true)
        return fail("unexpected \(shown), expected \(expecting)", at: pos)
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func document() throws(FieldProblem) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
        skipWhitespace()
        while true {
            // Here a value starts: either a scalar, or a container whose first element follows.
            var value: JSONValue
            guard pos < bytes.count else { throw unexpected("a value") }
            switch bytes[pos] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[pos] == UInt8(ascii: "{")
                guard frames.count < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth) levels", at: pos) }
                pos += 1
                skipWhitespace()
                if pos < bytes.count, bytes[pos] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    value = isObject ? .object([:]) : .array([])
                } else {
                    frames.append(Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count))
                    if isObject { try memberKey() }
                    continue
                }
            case UInt8(ascii: "\""): value = .string(try string())
            case UInt8(ascii: "t"): try literal("true"); value = .bool(true)
            case UInt8(ascii: "f"): try literal("false"); value = .bool(false)
            case UInt8(ascii: "n"): try literal("null"); value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): value = .number(try number())
            default: throw unexpected("a value")
            }
            // Hand the value to its container; closing containers cascades outwards.
            while true {
                skipWhitespace()
                guard let frame = frames.last else {
                    guard pos == bytes.count else { throw unexpected("end of input after the value") }
                    return value
                }
                values.append(value)
                let close = frame.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if pos < bytes.count, bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    if frame.isObject { try memberKey() }
                    break
                }
                guard pos < bytes.count, bytes[pos] == close else {
                    throw unexpected(frame.isObject ? "',' or '}'" : "',' or ']'")
                }
                pos += 1
                value = finish(frame)
            }
        }
    }

    /// Reads `"key" :` and leaves `pos` at the member's value.
    private mutating func memberKey() throws(FieldProblem) {
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw unexpected("a string key") }
        keys.append(try string())
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw unexpected("':'") }
        pos += 1
        skipWhitespace()
    }

    private mutating func finish(_ frame: Frame) -> JSONValue {
        frames.removeLast()
        defer {
            values.removeSubrange(frame.valueStart...)
            if frame.isObject { keys.removeSubrange(frame.keyStart...) }
        }
        guard frame.isObject else { return .array(Array(values[frame.valueStart...])) }
        var object = [String: JSONValue](minimumCapacity: values.count - frame.valueStart)
        // A repeated key keeps its first value, as JSONDecoder did before this parser: members
        // go in last to first, so the first one is stored last (one hash per member).
        for i in (0..<values.count - frame.valueStart).reversed() {
            object[keys[frame.keyStart + i]] = values[frame.valueStart + i]
        }
        return .object(object)
    }

    private mutating func literal(_ word: StaticString) throws(FieldProblem) {
        let start = pos
        let count = word.utf8CodeUnitCount
        guard bytes.count - pos >= count, (0..<count).allSatisfy({ bytes[pos + $0] == word.utf8Start[$0] }) else {
            throw fail("invalid literal, expected '\(word)'", at: start)
        }
        pos += count
    }

    // MARK: Numbers

    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// RFC 8259 number grammar. Up to 15 significant digits scaled by at most 10^22 are exact
    /// Doubles, so one multiplication or division rounds correctly (Clinger's fast path);
    /// anything else goes to the standard library's correctly rounded `Double(_: String)`.
    private mutating func number() throws(FieldProblem) -> Double {
        let start = pos
        let negative = bytes[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var scale = 0

        func digit(_ at: Int) -> UInt8? {
            guard at < bytes.count else { return nil }
            let d = bytes[at] &- UInt8(ascii: "0")
            return d < 10 ? d : nil
        }
        func accumulate(_ d: UInt8) {
            guard d != 0 || significantDigits > 0 else { return }
            significantDigits += 1
            if significantDigits <= 19 { mantissa = mantissa &* 10 &+ UInt64(d) }
        }

        guard let first = digit(pos) else { throw fail("invalid number, expected a digit", at: pos) }
        pos += 1
        if first == 0 {
            if digit(pos) != nil { throw fail("invalid number, leading zero", at: start) }
        } else {
            accumulate(first)
            while let d = digit(pos) { accumulate(d); pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digit(pos) != nil else { throw fail("invalid number, expected a digit after '.'", at: pos) }
            while let d = digit(pos) { accumulate(d); scale -= 1; pos += 1 }
        }
        if pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            var exponentNegative = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") || bytes[pos] == UInt8(ascii: "+") {
                exponentNegative = bytes[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard digit(pos) != nil else { throw fail("invalid number, expected a digit in the exponent", at: pos) }
            var exponent = 0
            // Capped: past 10^6 only the sign matters, and the fallback parses the text anyway.
            while let d = digit(pos) { exponent = min(exponent * 10 + Int(d), 1_000_000); pos += 1 }
            scale += exponentNegative ? -exponent : exponent
        }

        if significantDigits == 0 { return negative ? -0.0 : 0.0 }
        if significantDigits <= 15, (-22...22).contains(scale) {
            let m = Double(mantissa)
            let v = scale < 0 ? m / Self.exactPowersOfTen[-scale] : m * Self.exactPowersOfTen[scale]
            return negative ? -v : v
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let v = Double(text), v.isFinite else { throw fail("number \(text.prefix(40)) is out of range", at: start) }
        // JSONDecoder refused a non-zero number that rounds to zero too.
        guard v != 0 else { throw fail("number \(text.prefix(40)) is too small for a Double", at: start) }
        return v
    }

    // MARK: Strings

    /// Reads a string at the opening quote. Without escapes the String is made straight from the
    /// validated bytes; with escapes the decoded UTF-8 is assembled in a buffer first.
    private mutating func string() throws(FieldProblem) -> String {
        let start = pos
        pos += 1
        var runStart = pos
        var decoded: [UInt8] = []
        var escaped = false
        while true {
            guard pos < bytes.count else { throw fail("unterminated string starting", at: start) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[runStart..<pos])
                pos += 1
                guard escaped else { return String(decoding: run, as: UTF8.self) }
                decoded.append(contentsOf: run)
                return String(decoding: decoded, as: UTF8.self)
            } else if b == UInt8(ascii: "\\") {
                if !escaped { decoded.reserveCapacity(pos - runStart + 16); escaped = true }
                decoded.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<pos]))
                try escape(into: &decoded)
                runStart = pos
            } else if b < 0x20 {
                throw fail("unescaped control character 0x" + String(b, radix: 16, uppercase: true) + " in string", at: pos)
            } else if b < 0x80 {
                pos += 1
            } else {
                try skipUTF8Sequence()
            }
        }
    }

    /// Decodes the escape at `pos` (the backslash) and appends its UTF-8.
    private mutating func escape(into out: inout [UInt8]) throws(FieldProblem) {
        let start = pos
        guard pos + 1 < bytes.count else { throw fail("unterminated escape", at: start) }
        let c = bytes[pos + 1]
        pos += 2
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xDC00...0xDFFF).contains(scalar) { throw fail("unpaired low surrogate \\u escape", at: start) }
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - pos >= 2, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw fail("unpaired high surrogate \\u escape", at: start)
                }
                pos += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("high surrogate \\u escape not followed by a low one", at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            // Surrogates were excluded above, so this is a valid scalar.
            guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape", at: start) }
            UTF8.encode(u) { out.append($0) }
        default:
            throw fail("invalid escape", at: start)
        }
    }

    private mutating func hex4() throws(FieldProblem) -> UInt32 {
        guard bytes.count - pos >= 4 else { throw fail("incomplete \\u escape", at: pos) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in \\u escape", at: pos)
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    /// Steps over one well-formed multi-byte UTF-8 sequence (Unicode table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF).
    private mutating func skipUTF8Sequence() throws(FieldProblem) {
        let lead = bytes[pos]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw fail("invalid UTF-8", at: pos)
        }
        guard bytes.count - pos >= length, secondRange.contains(bytes[pos + 1]) else { throw fail("invalid UTF-8", at: pos) }
        for i in 2..<length where bytes[pos + i] & 0xC0 != 0x80 { throw fail("invalid UTF-8", at: pos) }
        pos += length
    }
}

import Foundation

/// Reads a detection in the native schema (PRODUCT §4) out of a JSON object, naming the
/// first field that is wrong and why. Semantic checks live in `DetectionValidator`.
public enum NativeDetection {
    public static func parse(_ value: JSONValue) throws(FieldProblem) -> Detection {
        guard let o = value.objectValue else {
            throw FieldProblem(field: nil, "expected a JSON object, got \(value.typeName)")
        }
        let camera = try requiredString(o, "camera_id")
        let timestamp = try Timestamps.parse(o["timestamp"], field: "timestamp")
        let defect = try requiredString(o, "defect_class")
        guard let confValue = o["confidence"], !confValue.isNull else {
            throw FieldProblem(field: "confidence", "is required (a number from 0 to 1)")
        }
        guard let confidence = confValue.doubleValue else {
            throw FieldProblem(field: "confidence", "must be a number from 0 to 1, got \(confValue.typeName)")
        }
        var d = Detection(cameraId: camera, timestamp: timestamp, defectClass: defect, confidence: confidence)
        if let v = o["detection_id"], !v.isNull {
            guard let id = v.stringOrNumber else {
                throw FieldProblem(field: "detection_id", "must be a string, got \(v.typeName)")
            }
            d.detectionId = id
        }
        if let v = o["bbox"], !v.isNull {
            guard let b = v.objectValue else { throw FieldProblem(field: "bbox", "must be an object {x, y, width, height}") }
            d.bbox = BoundingBox(
                x: try number(b, "x", prefix: "bbox."), y: try number(b, "y", prefix: "bbox."),
                width: try number(b, "width", prefix: "bbox."), height: try number(b, "height", prefix: "bbox."))
        }
        if let v = o["image"], !v.isNull {
            guard let i = v.objectValue else { throw FieldProblem(field: "image", "must be an object") }
            d.image = ImageRef(
                width: try optionalInt(i, "width", prefix: "image."),
                height: try optionalInt(i, "height", prefix: "image."),
                url: try optionalString(i, "url", prefix: "image."),
                dataBase64: try optionalString(i, "data_base64", prefix: "image."))
        }
        d.zone = try optionalString(o, "zone")
        d.productionOrder = try optionalString(o, "production_order")
        d.shift = try optionalString(o, "shift")
        d.trackingId = try optionalString(o, "tracking_id")
        if let v = o["model"], !v.isNull {
            guard let m = v.objectValue else { throw FieldProblem(field: "model", "must be an object {name, version}") }
            var version: String?
            if let v = m["version"], !v.isNull {
                guard let text = v.stringOrNumber else { throw FieldProblem(field: "model.version", "must be a string or a number, got \(v.typeName)") }
                version = text
            }
            d.model = ModelInfo(name: try optionalString(m, "name", prefix: "model."), version: version)
        }
        if let v = o["measurements"], !v.isNull {
            guard let m = v.objectValue else { throw FieldProblem(field: "measurements", "must be an object of numbers") }
            var out: [String: Double] = [:]
            for (k, mv) in m {
                guard let n = mv.doubleValue else {
                    throw FieldProblem(field: "measurements.\(k)", "must be a number, got \(mv.typeName)")
                }
                out[k] = n
            }
            d.measurements = out
        }
        d.sourceFormat = "native"
        return d
    }

    static func requiredString(_ o: [String: JSONValue], _ key: String) throws(FieldProblem) -> String {
        guard let v = o[key], !v.isNull else { throw FieldProblem(field: key, "is required") }
        guard let s = v.stringValue else { throw FieldProblem(field: key, "must be a string, got \(v.typeName)") }
        return s
    }

    static func optionalString(_ o: [String: JSONValue], _ key: String, prefix: String = "") throws(FieldProblem) -> String? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw FieldProblem(field: prefix + key, "must be a string, got \(v.typeName)") }
        return s
    }

    static func number(_ o: [String: JSONValue], _ key: String, prefix: String) throws(FieldProblem) -> Double {
        guard let v = o[key], !v.isNull else { throw FieldProblem(field: prefix + key, "is required") }
        guard let n = v.doubleValue else { throw FieldProblem(field: prefix + key, "must be a number, got \(v.typeName)") }
        return n
    }

    static func optionalInt(_ o: [String: JSONValue], _ key: String, prefix: String) throws(FieldProblem) -> Int? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let n = v.doubleValue.flatMap({ Checked.exactInt($0, in: -1_000_000_000...1_000_000_000) }) else {
            throw FieldProblem(field: prefix + key, "must be a whole number of pixels")
        }
        return n
    }
}

/// Timestamp parsing shared by every adapter: ISO 8601 (with or without fractional
/// seconds, `Z` or offset) or a Unix epoch number (seconds, or milliseconds when > 1e11).
public enum Timestamps {
    public static func parse(_ value: JSONValue?, field: String) throws(FieldProblem) -> Date {
        guard let value, !value.isNull else { throw FieldProblem(field: field, "is required (ISO 8601, e.g. 2026-11-21T02:14:00.123Z)") }
        switch value {
        case .string(let s):
            if let d = parseISO(s) { return d }
            throw FieldProblem(field: field, "'\(s.prefix(40))' is not an ISO 8601 time (e.g. 2026-11-21T02:14:00.123Z)")
        case .number(let n):
            // Up to the year 9999 in milliseconds; anything larger is not a camera clock.
            guard n.isFinite, n > 0, n < 253_402_300_800_000 else { throw FieldProblem(field: field, "epoch time must be a positive Unix time in seconds or milliseconds") }
            return Date(timeIntervalSince1970: n > 1e11 ? n / 1000 : n)
        default:
            throw FieldProblem(field: field, "must be an ISO 8601 string or epoch number, got \(value.typeName)")
        }
    }

    /// An ISO 8601 / RFC 3339 time. `parseRFC3339` first: it runs for every detection, and reads
    /// what Foundation reads to the same millisecond (TimestampTests); Foundation's parser then
    /// for the ISO 8601 spellings RFC 3339 leaves out.
    public static func parseISO(_ s: String) -> Date? {
        if let d = parseRFC3339(s) { return d }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let d = try? fractional.parse(s) { return d }
        return try? Date.ISO8601FormatStyle().parse(s)
    }

    /// An RFC 3339 date-time (what OpenAPI's `format: date-time` means): any year 0000–9999,
    /// any offset up to ±23:59 (also written without the colon), `T`/`t` or a space between
    /// date and time, a leap second read as the next second, any number of fraction digits.
    public static func parseRFC3339(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard b.count >= 20, b.count <= 64 else { return nil }
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30, b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2),
              expect(0x54, 0x74, 0x20), let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2),
              (1...12).contains(month), day >= 1, day <= LocalDate.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        // Nanoseconds from the first nine fraction digits: one division, so ".123" is the
        // Double nearest 0.123, as the millisecond rounding of the store expects.
        var nanos = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if count < 9 { nanos = nanos * 10 + Int(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanos *= 10 }
        }
        var offset = 0
        if expect(0x5A, 0x7A) {
            offset = 0
        } else {
            guard i < b.count, b[i] == 0x2B || b[i] == 0x2D else { return nil }
            let sign = b[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = digits(2), oh <= 23 else { return nil }
            _ = expect(0x3A)
            guard let om = digits(2), om <= 59 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        }
        guard i == b.count else { return nil }
        let days = LocalDate(year: year, month: month, day: day).dayNumber
        let whole = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        // Built on the reference date, as Foundation's own parser does, so formatting the
        // result gives back the same milliseconds.
        return Date(timeIntervalSinceReferenceDate: Double(whole - 978_307_200) + Double(nanos) / 1e9)
    }

    public static func format(_ d: Date) -> String {
        d.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

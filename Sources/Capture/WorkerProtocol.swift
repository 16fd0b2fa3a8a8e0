import Foundation
import MillwrightCore

/// The JSON-lines protocol between the gateway and a `detector: { kind: command }` worker: what
/// the gateway writes to the worker's stdin and how it reads the worker's stdout. Pure: no
/// process, no clock. docs/capture.md ("Bring your own model") is the worker author's copy.
///
/// worker → gateway, once after starting:  {"ready": true, "model": {"name": "…", "version": "…"}}
/// gateway → worker, one line per frame:   {"id": 7, "camera": "CAM-1", "width": 1920, "height": 1080, "jpeg_b64": "…"}
/// worker → gateway, one line per frame:   {"id": 7, "detections": [{"class": "crack" | 0, "confidence": 0.93, "box": [x, y, w, h]}]}
///                                     or: {"id": 7, "error": "why"}
public enum WorkerProtocol {
    /// The longest line a worker may write; a longer one is cut off (not buffered) and ends the worker.
    public static let maxLineBytes = 256 << 10
    /// Detections one answer may hold.
    public static let maxDetections = 256
    /// Longest class name, model name or version a worker may give.
    public static let maxNameBytes = 100
    /// An error answer's text is kept up to this many bytes (the log's sake).
    public static let maxErrorBytes = 500

    public enum ClassRef: Sendable, Equatable {
        case name(String)
        /// An index into `labels`.
        case index(Int)
    }

    public struct Detection: Sendable, Equatable {
        public var classRef: ClassRef
        public var confidence: Double
        /// x, y, width, height in the frame's pixels, as the worker gave them (finite, width and height ≥ 0).
        public var box: [Double]
    }

    public enum Message: Sendable, Equatable {
        case ready(modelName: String?, modelVersion: String?)
        case answer(id: Int, detections: [Detection])
        case failed(id: Int, why: String)
    }

    public struct Garbage: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// The line for one frame, newline included.
    public static func request(id: Int, camera: String, width: Int, height: Int, jpeg: Data) -> Data {
        var line = Data()
        line.reserveCapacity(jpeg.count * 4 / 3 + 200)
        let head: JSONValue = .object(["id": .number(Double(id)), "camera": .string(camera), "width": .number(Double(width)), "height": .number(Double(height))])
        // The encoder writes the object; the Base64 field is appended by hand so an 8 MiB frame
        // is not copied through a JSONValue string.
        var text = (try? JSONEncoder().encode(head)) ?? Data("{}".utf8)
        text.removeLast() // the closing brace
        line.append(text)
        line.append(contentsOf: Array(",\"jpeg_b64\":\"".utf8))
        line.append(jpeg.base64EncodedData())
        line.append(contentsOf: Array("\"}\n".utf8))
        return line
    }

    /// One line from the worker (without its newline). Anything that is not one of the three
    /// messages, exactly, is garbage.
    public static func decode(_ line: Data) throws(Garbage) -> Message {
        guard line.count <= maxLineBytes else { throw Garbage("a line of \(line.count) bytes (at most \(maxLineBytes))") }
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw Garbage("not JSON: \(error.problem.prefix(200))") }
        guard let o = value.objectValue else { throw Garbage("not a JSON object") }
        if let ready = o["ready"] {
            guard ready == .bool(true) else { throw Garbage("\"ready\" must be true") }
            var name: String?, version: String?
            if let m = o["model"], !m.isNull {
                guard let mo = m.objectValue else { throw Garbage("\"model\" must be an object {name, version}") }
                name = try optionalName(mo["name"], "model.name")
                version = try optionalName(mo["version"], "model.version")
            }
            return .ready(modelName: name, modelVersion: version)
        }
        guard let idValue = o["id"]?.doubleValue, idValue >= 0, idValue <= 9_007_199_254_740_991, idValue == idValue.rounded() else {
            throw Garbage("no \"ready\" and no whole-number \"id\"")
        }
        let id = Int(idValue)
        if let e = o["error"] {
            guard let why = e.stringValue else { throw Garbage("\"error\" must be a string") }
            return .failed(id: id, why: String(why.prefix(maxErrorBytes)))
        }
        guard let list = o["detections"]?.arrayValue else { throw Garbage("answer \(id) has neither \"detections\" (a list) nor \"error\"") }
        guard list.count <= maxDetections else { throw Garbage("answer \(id) has \(list.count) detections (at most \(maxDetections))") }
        var out: [Detection] = []
        out.reserveCapacity(list.count)
        for (i, d) in list.enumerated() {
            guard let dobj = d.objectValue else { throw Garbage("detection \(i) is not an object") }
            let classRef: ClassRef
            switch dobj["class"] {
            case .string(let s)?:
                guard !s.isEmpty, s.utf8.count <= maxNameBytes else { throw Garbage("detection \(i): class must be 1 to \(maxNameBytes) bytes") }
                classRef = .name(s)
            case .number(let n)? where n >= 0 && n <= 1_000_000 && n == n.rounded():
                classRef = .index(Int(n))
            default:
                throw Garbage("detection \(i): class must be a name or a class number")
            }
            guard let c = dobj["confidence"]?.doubleValue, c.isFinite, (0...1).contains(c) else {
                throw Garbage("detection \(i): confidence must be a number from 0 to 1")
            }
            guard let b = dobj["box"]?.arrayValue, b.count == 4 else { throw Garbage("detection \(i): box must be [x, y, width, height]") }
            let box = b.compactMap(\.doubleValue)
            guard box.count == 4, box.allSatisfy({ $0.isFinite && abs($0) <= 1e7 }), box[2] >= 0, box[3] >= 0 else {
                throw Garbage("detection \(i): box must be four finite numbers, width and height not negative")
            }
            out.append(Detection(classRef: classRef, confidence: c, box: box))
        }
        return .answer(id: id, detections: out)
    }

    private static func optionalName(_ v: JSONValue?, _ field: String) throws(Garbage) -> String? {
        guard let v, !v.isNull else { return nil }
        guard let s = v.stringOrNumber, !s.isEmpty, s.utf8.count <= maxNameBytes else { throw Garbage("\(field) must be 1 to \(maxNameBytes) characters") }
        return s
    }

    /// The detections the gateway ingests from an answer: classes named (a number through
    /// `labels`), those under `threshold` dropped, boxes clipped to the frame (one entirely
    /// outside it dropped), the most confident first, at most `limit`. `refused` says why each
    /// dropped detection (other than for its confidence) was dropped.
    public static func findings(_ detections: [Detection], labels: [String], threshold: Double, frameWidth: Int, frameHeight: Int,
                                limit: Int) -> (kept: [DetectorReport.Finding], refused: [String]) {
        var kept: [DetectorReport.Finding] = [], refused: [String] = []
        for d in detections where d.confidence >= threshold {
            let name: String
            switch d.classRef {
            case .name(let n): name = n
            case .index(let i):
                guard i < labels.count else {
                    refused.append(labels.isEmpty ? "class \(i) is a number and the detector has no labels"
                                                  : "class \(i) has no label (labels has \(labels.count))")
                    continue
                }
                name = labels[i]
            }
            // Clipped in Double, then whole pixels: every value is within 0…frame size before it becomes an Int.
            let w = Double(frameWidth), h = Double(frameHeight)
            let x0 = min(max(d.box[0], 0), w), y0 = min(max(d.box[1], 0), h)
            let x1 = min(max(d.box[0] + d.box[2], 0), w), y1 = min(max(d.box[1] + d.box[3], 0), h)
            let px = Int(x0.rounded(.down)), py = Int(y0.rounded(.down))
            let pw = Int(x1.rounded(.up)) - px, ph = Int(y1.rounded(.up)) - py
            guard pw > 0, ph > 0 else { refused.append("a \(name) box outside the \(frameWidth)×\(frameHeight) frame"); continue }
            kept.append(.init(defectClass: name, confidence: d.confidence, x: px, y: py, width: pw, height: ph))
        }
        kept.sort { $0.confidence > $1.confidence }
        return (Array(kept.prefix(limit)), refused)
    }
}

/// Splits a worker's stdout into lines without ever holding more than `maxBytes` of one: a
/// longer line is reported once as `.tooLong` and the rest of it is thrown away.
public struct WorkerLines: Sendable {
    public enum Event: Sendable, Equatable {
        case line(Data)
        case tooLong
    }

    public let maxBytes: Int
    private var buffer = Data()
    private var discarding = false

    public init(maxBytes: Int = WorkerProtocol.maxLineBytes) { self.maxBytes = maxBytes }

    public mutating func feed(_ chunk: Data) -> [Event] {
        var events: [Event] = []
        var rest = chunk[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: 10)
            let piece = rest[rest.startIndex..<(newline ?? rest.endIndex)]
            if !discarding {
                if buffer.count + piece.count > maxBytes {
                    events.append(.tooLong)
                    buffer = Data()
                    discarding = true
                } else {
                    buffer.append(piece)
                }
            }
            guard let nl = newline else { break }
            if !discarding {
                var line = buffer
                if line.last == 13 { line.removeLast() } // CRLF from a worker on another platform's habits
                if !line.isEmpty { events.append(.line(line)) }
            }
            buffer = Data()
            discarding = false
            rest = rest[rest.index(after: nl)...]
        }
        return events
    }
}

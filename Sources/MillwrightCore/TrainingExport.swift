import Foundation

// The training export (`GET /v1/exports/training`): frames of detections a person judged, with
// labels in COCO or YOLO form and a manifest, as a zip. The labels and the archive's bytes are
// built here without I/O; the server reads frames and writes the chunks as they come.

public enum TrainingFormat: String, Sendable, CaseIterable {
    case coco, yolo
}

/// One judged detection with its frame.
public struct TrainingSample: Sendable, Equatable {
    public var detectionId: String
    public var incidentId: String
    public var camera: String
    public var defectClass: String
    public var verdict: Verdict
    public var timestamp: Date
    public var bbox: BoundingBox?
    /// The frame's size as the camera reported it; nil when it did not.
    public var width: Int?
    public var height: Int?
    public var frameSHA256: String
    public init(detectionId: String, incidentId: String, camera: String, defectClass: String, verdict: Verdict, timestamp: Date,
                bbox: BoundingBox?, width: Int?, height: Int?, frameSHA256: String) {
        self.detectionId = detectionId; self.incidentId = incidentId; self.camera = camera; self.defectClass = defectClass
        self.verdict = verdict; self.timestamp = timestamp; self.bbox = bbox; self.width = width; self.height = height
        self.frameSHA256 = frameSHA256
    }

    /// The frame's name in the archive: the detection id made safe for a path (ids are client
    /// strings), with its hash to keep two ids that clean up alike apart. `ext`: jpg or png.
    public func imageName(ext: String) -> String {
        let safe = String(detectionId.unicodeScalars.prefix(64).map { c -> Character in
            (c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "-" || c == "_")) ? Character(c) : "_"
        })
        return "\(safe)-\(frameSHA256.prefix(12)).\(ext)"
    }
}

/// A completion photo read back from the CMMS: the repaired asset, exported as a negative
/// sample (nothing to find) of the defect its incident was about.
public struct CompletionSample: Sendable, Equatable {
    public var incidentId: String
    public var workOrderId: String
    public var camera: String
    public var asset: String
    public var defectClass: String
    /// The photo in the evidence store (always JPEG there).
    public var photoSHA256: String
    public var readAt: Date
    public init(incidentId: String, workOrderId: String, camera: String, asset: String, defectClass: String, photoSHA256: String, readAt: Date) {
        self.incidentId = incidentId; self.workOrderId = workOrderId; self.camera = camera; self.asset = asset
        self.defectClass = defectClass; self.photoSHA256 = photoSHA256; self.readAt = readAt
    }

    /// Its name in the archive: the incident id made safe for a path, and the photo's hash.
    public var imageName: String {
        let safe = String(incidentId.unicodeScalars.prefix(64).map { c -> Character in
            (c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "-" || c == "_")) ? Character(c) : "_"
        })
        return "completion-\(safe)-\(photoSHA256.prefix(12)).jpg"
    }
}

public enum TrainingLabels {
    /// Confirmed detections are labelled with their class and box; false positives are negative
    /// samples: the image is listed with no annotation (COCO) or an empty label file (YOLO).
    /// Classes are numbered in name order, from 1 in COCO and from 0 in YOLO, as each expects.
    public static func classes(_ samples: [TrainingSample]) -> [String] {
        Set(samples.filter { $0.verdict == .confirmed }.map(\.defectClass)).sorted()
    }

    /// `files`: each sample with its path in the archive; `completions`: completion photos with
    /// theirs, listed as images with no annotation (negatives of the repaired asset).
    public static func coco(_ files: [(sample: TrainingSample, path: String)], completions: [(photo: CompletionSample, path: String)] = []) -> Data {
        let names = classes(files.map(\.sample))
        let ids = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0 + 1) })
        var images: [JSONValue] = [], annotations: [JSONValue] = []
        for (i, (s, path)) in files.enumerated() {
            var image: [String: JSONValue] = ["id": .number(Double(i + 1)), "file_name": .string(path),
                                              "millwright_detection": .string(s.detectionId), "millwright_verdict": .string(s.verdict.rawValue)]
            if let w = s.width { image["width"] = .number(Double(w)) }
            if let h = s.height { image["height"] = .number(Double(h)) }
            images.append(.object(image))
            guard s.verdict == .confirmed, let b = s.bbox, let cat = ids[s.defectClass] else { continue }
            annotations.append(.object([
                "id": .number(Double(annotations.count + 1)), "image_id": .number(Double(i + 1)), "category_id": .number(Double(cat)),
                "bbox": .array([.number(b.x), .number(b.y), .number(b.width), .number(b.height)]), "area": .number(b.area), "iscrowd": .number(0),
            ]))
        }
        for (c, path) in completions {
            images.append(.object(["id": .number(Double(images.count + 1)), "file_name": .string(path),
                                   "millwright_incident": .string(c.incidentId), "millwright_verdict": .string("completion_photo")]))
        }
        let doc: JSONValue = .object([
            "images": .array(images), "annotations": .array(annotations),
            "categories": .array(names.enumerated().map { .object(["id": .number(Double($0 + 1)), "name": .string($1)]) }),
        ])
        return Data(RecordJSON.encode(doc).utf8)
    }

    /// One YOLO label file's text: `class cx cy w h`, normalised to the frame's size. Nil when a
    /// confirmed sample cannot be labelled (no box or no frame size): it is left out, not guessed.
    public static func yolo(_ s: TrainingSample, classes: [String]) -> String? {
        guard s.verdict == .confirmed else { return "" }
        guard let b = s.bbox, let w = s.width, let h = s.height, w > 0, h > 0, let cls = classes.firstIndex(of: s.defectClass) else { return nil }
        let fw = Double(w), fh = Double(h)
        func f(_ v: Double) -> String { String(format: "%.6f", min(1, max(0, v))) }
        return "\(cls) \(f((b.x + b.width / 2) / fw)) \(f((b.y + b.height / 2) / fh)) \(f(b.width / fw)) \(f(b.height / fh))\n"
    }
}

/// CRC-32 (ISO 3309, the zip and PNG polynomial), table-driven.
public struct CRC32: Sendable {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public private(set) var value: UInt32 = 0
    public init() {}

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var c = ~value
        for b in bytes { c = Self.table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        value = ~c
    }

    public static func checksum(_ data: Data) -> UInt32 { var c = CRC32(); c.update(data); return c.value }
}

/// A zip archive of stored (uncompressed) entries, written front to back: each `entry` returns
/// the bytes to send now and `finish` the central directory. Frames are JPEG, which deflate
/// would not shrink, so storing costs nothing. No zip64: the caller keeps the archive under
/// `maxBytes` (4 GiB minus headroom) and under 65 535 entries, which this refuses to pass.
public struct StoredZipWriter: Sendable {
    public static let maxBytes: UInt64 = 0xFFFF_0000
    public static let maxEntries = 65_535

    public enum Failure: Error, Equatable { case tooLarge, tooManyEntries, nameTooLong }

    private var central = Data()
    private var entries = 0
    public private(set) var offset: UInt64 = 0
    /// DOS time and date of every entry (the export's time).
    private let dosTime: UInt16, dosDate: UInt16

    public init(date: Date) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = .gmt
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = min(max((c.year ?? 1980) - 1980, 0), 127)
        dosDate = UInt16(year << 9 | (c.month ?? 1) << 5 | (c.day ?? 1))
        dosTime = UInt16((c.hour ?? 0) << 11 | (c.minute ?? 0) << 5 | (c.second ?? 0) / 2)
    }

    public mutating func entry(name: String, data: Data) throws(Failure) -> Data {
        let nameBytes = Data(name.utf8)
        guard nameBytes.count <= 0xFFFF else { throw .nameTooLong }
        guard entries < Self.maxEntries else { throw .tooManyEntries }
        let size = UInt64(data.count)
        guard offset + 30 + UInt64(nameBytes.count) + size + UInt64(central.count) + 46 + UInt64(nameBytes.count) + 22 <= Self.maxBytes else { throw .tooLarge }
        let crc = CRC32.checksum(data)
        var local = Data()
        local.le32(0x0403_4B50); local.le16(20); local.le16(0x0800) // version 2.0; UTF-8 names
        local.le16(0); local.le16(dosTime); local.le16(dosDate)      // stored
        local.le32(crc); local.le32(UInt32(size)); local.le32(UInt32(size))
        local.le16(UInt16(nameBytes.count)); local.le16(0)
        local.append(nameBytes)

        central.le32(0x0201_4B50); central.le16(20); central.le16(20); central.le16(0x0800)
        central.le16(0); central.le16(dosTime); central.le16(dosDate)
        central.le32(crc); central.le32(UInt32(size)); central.le32(UInt32(size))
        central.le16(UInt16(nameBytes.count)); central.le16(0); central.le16(0) // extra, comment
        central.le16(0); central.le16(0); central.le32(0)                         // disk, internal, external attributes
        central.le32(UInt32(offset))
        central.append(nameBytes)

        entries += 1
        offset += UInt64(local.count) + size
        return local + data
    }

    /// The central directory and its end record.
    public func finish() -> Data {
        var end = central
        end.le32(0x0605_4B50); end.le16(0); end.le16(0)
        end.le16(UInt16(entries)); end.le16(UInt16(entries))
        end.le32(UInt32(central.count)); end.le32(UInt32(offset))
        end.le16(0)
        return end
    }
}

extension Data {
    fileprivate mutating func le16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    fileprivate mutating func le32(_ v: UInt32) { for i in 0..<4 { append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
}

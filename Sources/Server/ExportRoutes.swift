import Evidence
import Foundation
import Hummingbird
import MillwrightCore
import NIOCore
import Store

/// `GET /v1/exports/training` (operator): the frames of detections a person judged, labelled
/// for COCO or YOLO, and the completion photos read back from the CMMS as negatives (unless
/// `verdict=confirmed`), with a manifest, streamed as a zip of stored entries (`StoredZipWriter`).
extension APIServer {
    static let exportDefaultItems = 10_000
    static let exportMaxItems = 50_000
    /// Frames are at most a few MB each; an archive stops short of this many bytes.
    static let exportMaxBytes: UInt64 = 2 << 30

    var exportRoutes: [Route] {
        [Route(method: .get, path: "/v1/exports/training", handler: trainingExport)]
    }

    func trainingExport(_ request: Request, _ ctx: MillwrightContext) async throws -> Response {
        try ctx.require(.feedback)
        let q = request.uri.queryParameters
        let now = Date()
        let formatText = q.get("format") ?? "coco"
        guard let format = TrainingFormat(rawValue: formatText) else {
            throw Problem(.badRequest, type: "invalid-query", detail: "format '\(formatText.prefix(64))' is not one of coco, yolo")
        }
        let since = try Self.analyticsSince(q.get("since"), now: now)
        var verdict: Verdict?
        if let v = q.get("verdict"), v != "all" {
            guard let parsed = Verdict(rawValue: v) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "verdict '\(v.prefix(64))' is not one of confirmed, false_positive, all")
            }
            verdict = parsed
        }
        var limit = Self.exportDefaultItems
        if let l = q.get("limit") {
            guard let n = Int(l), (1...Self.exportMaxItems).contains(n) else {
                throw Problem(.badRequest, type: "invalid-query", detail: "limit must be an integer from 1 to \(Self.exportMaxItems)")
            }
            limit = n
        }
        guard let evidence = gateway.evidence else {
            throw Problem(.conflict, type: "no-evidence", detail: "this gateway stores no frames (evidence is not configured); there is nothing to export")
        }
        var judged = try await gateway.store.trainingSamples(since: since, verdict: verdict, limit: limit)
        // Completion photos are negatives: left out when only confirmed detections are asked for.
        // They share `limit` with the detections, so the archive stays within its item bound.
        let room = limit - judged.samples.count
        var photos = verdict == .confirmed || room <= 0 ? [] : try await gateway.store.completionPhotos(since: since, limit: room + 1)
        if photos.count > room { photos.removeLast(); judged.truncated = true }
        let (selection, completions) = (judged, photos)
        let frames = evidence.frames, images = evidence.images
        let manifestHead: [String: JSONValue] = [
            "format": .string(format.rawValue), "since": .string(Timestamps.format(since)), "exported_at": .string(Timestamps.format(now)),
            "verdict": .string(verdict?.rawValue ?? "all"), "site": .string(gateway.settings.site.name),
        ]
        let name = "millwright-training-\(format.rawValue)-\(Timestamps.format(now).prefix(10)).zip"
        let body = ResponseBody { writer in
            try await Self.writeArchive(to: &writer, selection: selection, completions: completions, format: format, frames: frames, images: images,
                                        manifestHead: manifestHead, now: now)
        }
        return Response(status: .ok, headers: [.contentType: "application/zip", .contentDisposition: "attachment; filename=\"\(name)\"",
                                               .cacheControl: "no-store"], body: body)
    }

    /// The frames, their labels, the completion photos (each with an empty label file in YOLO),
    /// the manifest and the central directory, in that order.
    static func writeArchive(to writer: inout any ResponseBodyWriter, selection: TrainingSelection, completions: [CompletionSample], format: TrainingFormat,
                             frames: EvidenceStore, images: EvidenceStore, manifestHead: [String: JSONValue], now: Date) async throws {
        var zip = StoredZipWriter(date: now)
        let classes = TrainingLabels.classes(selection.samples)
        var written: [(sample: TrainingSample, path: String)] = []
        var missing: [String] = [], unlabelled: [String] = []
        var stoppedAtBytes = false
        let headroom: UInt64 = 16 << 20  // for the labels and manifest at the end
        for s in selection.samples {
            guard let data = try? frames.get(s.frameSHA256) else { missing.append(s.detectionId); continue }
            if zip.offset + UInt64(data.count) + headroom > Self.exportMaxBytes { stoppedAtBytes = true; break }
            let ext = data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "png" : "jpg"
            var label: String?
            if format == .yolo {
                label = TrainingLabels.yolo(s, classes: classes)
                if label == nil { unlabelled.append(s.detectionId); continue }
            }
            let path = "images/" + s.imageName(ext: ext)
            try await writer.write(ByteBuffer(bytes: try zip.entry(name: path, data: data)))
            if let label {
                let labelPath = "labels/" + s.imageName(ext: ext).dropLast(ext.count + 1) + ".txt"
                try await writer.write(ByteBuffer(bytes: try zip.entry(name: String(labelPath), data: Data(label.utf8))))
            }
            written.append((s, path))
        }
        var photos: [(photo: CompletionSample, path: String)] = []
        var missingPhotos = 0
        for c in completions where !stoppedAtBytes {
            guard let data = try? images.get(c.photoSHA256) else { missingPhotos += 1; continue }
            if zip.offset + UInt64(data.count) + headroom > Self.exportMaxBytes { stoppedAtBytes = true; break }
            let path = "images/" + c.imageName
            try await writer.write(ByteBuffer(bytes: try zip.entry(name: path, data: data)))
            if format == .yolo {
                try await writer.write(ByteBuffer(bytes: try zip.entry(name: "labels/" + c.imageName.dropLast(4) + ".txt", data: Data())))
            }
            photos.append((c, path))
        }
        switch format {
        case .coco:
            try await writer.write(ByteBuffer(bytes: try zip.entry(name: "annotations.json", data: TrainingLabels.coco(written, completions: photos))))
        case .yolo:
            try await writer.write(ByteBuffer(bytes: try zip.entry(name: "classes.txt", data: Data(classes.map { $0 + "\n" }.joined().utf8))))
        }
        var manifest = manifestHead
        manifest["classes"] = .array(classes.map(JSONValue.string))
        manifest["items"] = .array(written.map { s, path in
            .object(["detection_id": .string(s.detectionId), "incident_id": .string(s.incidentId), "camera": .string(s.camera),
                     "defect_class": .string(s.defectClass), "verdict": .string(s.verdict.rawValue),
                     "timestamp": .string(Timestamps.format(s.timestamp)), "image": .string(path), "frame_sha256": .string(s.frameSHA256),
                     "negative": .bool(s.verdict == .falsePositive)])
        })
        manifest["confirmed"] = .number(Double(written.filter { $0.sample.verdict == .confirmed }.count))
        manifest["negatives"] = .number(Double(written.filter { $0.sample.verdict == .falsePositive }.count))
        // The repaired asset after the work: nothing to find, whatever the incident's class was.
        manifest["completion_photos"] = .array(photos.map { c, path in
            .object(["incident_id": .string(c.incidentId), "work_order_id": .string(c.workOrderId), "camera": .string(c.camera),
                     "asset": .string(c.asset), "defect_class": .string(c.defectClass), "read_at": .string(Timestamps.format(c.readAt)),
                     "image": .string(path), "photo_sha256": .string(c.photoSHA256), "negative": .bool(true),
                     "note": .string("completion photo from the CMMS: the repaired asset, a negative sample")])
        })
        manifest["completion_negatives"] = .number(Double(photos.count))
        manifest["skipped_completion_photos_missing"] = .number(Double(missingPhotos))
        manifest["skipped_without_frame"] = .number(Double(selection.withoutFrame + missing.count))
        manifest["skipped_unlabelled"] = .array(unlabelled.prefix(1000).map(JSONValue.string))
        manifest["truncated"] = .bool(selection.truncated || stoppedAtBytes)
        try await writer.write(ByteBuffer(bytes: try zip.entry(name: "manifest.json", data: Data(RecordJSON.encode(JSONValue.object(manifest)).utf8))))
        try await writer.write(ByteBuffer(bytes: zip.finish()))
        try await writer.finish(nil)
    }
}

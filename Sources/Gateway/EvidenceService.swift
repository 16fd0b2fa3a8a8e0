import Connectors
import Evidence
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import MillwrightCore
import Store

/// Frames and annotated images, content-addressed on disk. Frames sent inline are stored at
/// ingest (before the commit that references them); the annotated image is rendered once per
/// incident, before its work order is first sent, and never blocks it: without a usable
/// frame the work order carries an evidence card that says why.
public struct EvidenceService: Sendable {
    public let images: EvidenceStore
    public let frames: EvidenceStore
    let settings: EvidenceSettings
    let timezone: String
    public static let maxFrameBytes = 6 << 20

    /// Fetches frames that detections reference by URL (NVR, Frigate snapshot API); nil does not fetch.
    let fetcher: FrameFetcher?
    let logger = Logger(label: "millwright.evidence")

    /// `alsoAllow`: addresses the plant configured elsewhere and so trusts (a Frigate source's
    /// `frigate_url`), added to `evidence.fetch_allow`.
    public init(settings: EvidenceSettings, timezone: String, fetchFrames: Bool = true, alsoAllow: [String] = []) throws {
        self.settings = settings
        self.timezone = timezone
        var policy = settings.fetchPolicy
        for url in alsoAllow {
            guard let u = URLComponents(string: url), let host = u.host, !host.isEmpty else { continue }
            let port = u.port ?? (u.scheme?.lowercased() == "https" ? 443 : 80)
            if case .success(let e) = FetchPolicy.parse(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") { policy.entries.append(e) }
        }
        self.fetcher = fetchFrames ? FrameFetcher(policy: policy, maxBytes: Self.maxFrameBytes) : nil
        images = try EvidenceStore(directory: URL(fileURLWithPath: settings.directory), fileExtension: "jpg")
        frames = try EvidenceStore(directory: URL(fileURLWithPath: settings.directory).appendingPathComponent("frames"), fileExtension: "frame")
    }

    /// Moves an inline frame out of the detection into the frame store, after checking it is
    /// a JPEG or PNG whose header dimensions are within limits. Returns the frame's hash when
    /// this call wrote it, so a submission that is then not committed can take it back.
    @discardableResult
    public func takeInlineFrame(_ d: inout Detection) throws(FieldProblem) -> String? {
        guard let b64 = d.image?.dataBase64, !b64.isEmpty else { return nil }
        let data = try Self.decodeInlineFrame(b64)
        do { _ = try FrameCheck.inspect(data) } catch {
            throw FieldProblem(field: "image.data_base64", Self.frameProblem(error))
        }
        let stored: (hash: String, created: Bool)
        do { stored = try frames.store(data) } catch {
            throw FieldProblem(field: "image.data_base64", "could not be stored: \(error)")
        }
        d.frameSHA256 = stored.hash
        d.image?.dataBase64 = nil
        return stored.created ? stored.hash : nil
    }

    /// Strict base64 (line breaks allowed, and a `data:image/…;base64,` prefix): text that
    /// merely contains some base64 letters is not a frame.
    static func decodeInlineFrame(_ text: String) throws(FieldProblem) -> Data {
        var body = Substring(text)
        if body.hasPrefix("data:"), let comma = body.firstIndex(of: ",") { body = body[body.index(after: comma)...] }
        guard body.utf8.count <= (maxFrameBytes / 3 + 1) * 4 + maxFrameBytes / 38 else {
            throw FieldProblem(field: "image.data_base64", "frame is larger than \(maxFrameBytes) bytes")
        }
        let compact = body.utf8.contains(where: { $0 == 10 || $0 == 13 }) ? String(body.filter { $0 != "\n" && $0 != "\r" && $0 != "\r\n" }) : String(body)
        guard let data = Data(base64Encoded: compact), !data.isEmpty else {
            throw FieldProblem(field: "image.data_base64", "is not valid base64 (standard alphabet, padded)")
        }
        guard data.count <= maxFrameBytes else { throw FieldProblem(field: "image.data_base64", "frame is larger than \(maxFrameBytes) bytes") }
        return data
    }

    /// What a person should read about a frame that was refused.
    static func frameProblem(_ e: EvidenceError) -> String {
        switch e {
        case .unsupportedFormat, .empty: "is not a JPEG or PNG image"
        case let .tooManyPixels(w, h, limit): "frame is \(w)×\(h) pixels, over the limit of \(limit / 1_000_000) MP and \(FrameCheck.maxSide) per side"
        case let .invalidDimensions(w, h): "frame declares impossible dimensions \(w)×\(h)"
        default: "frame is damaged: \(e)"
        }
    }

    public struct Rendered: Sendable {
        public var jpeg: Data
        public var sha256: String
        public var usedFrame: Bool
        public var note: String
    }

    /// Fetches a frame by URL through the SSRF-safe `FrameFetcher` and stores it like an
    /// inline frame. The error is what the evidence card may say; details go to the log.
    public func fetchFrame(_ url: String) async throws(FieldProblem) -> String {
        guard let fetcher else { throw FieldProblem(field: "image.url", "frame fetching is not enabled") }
        let data: Data
        do { data = try await fetcher.fetch(url) } catch {
            logger.warning("frame fetch failed", metadata: ["url": "\(url.prefix(200))", "why": "\(error.detail)"])
            throw FieldProblem(field: "image.url", error.cardText)
        }
        do { _ = try FrameCheck.inspect(data) } catch {
            throw FieldProblem(field: "image.url", "the frame at the URL \(Self.frameProblem(error))")
        }
        do { return try frames.put(data) } catch {
            throw FieldProblem(field: "image.url", "frame could not be stored")
        }
    }

    /// `missingFrameReason`: what the card says when no detection has a frame (the default: the
    /// camera sent none).
    public func render(incident detections: [Detection], draft: WorkOrderDraft, maxBytes: Int, missingFrameReason: String? = nil) async -> Rendered? {
        var detections = detections
        var reason = missingFrameReason ?? "the camera sent no frame with its detections"
        // No inline frame: fetch the newest one the detections reference by URL.
        if !detections.contains(where: { $0.frameSHA256 != nil }),
           let i = detections.lastIndex(where: { $0.image?.url != nil }), let url = detections[i].image?.url {
            do throws(FieldProblem) { detections[i].frameSHA256 = try await fetchFrame(url) } catch { reason = error.problem }
        }
        let withFrame = detections.last { $0.frameSHA256 != nil }
        let primary = withFrame ?? detections.last
        guard let primary else { return nil }
        var frame: Data?
        if let hash = withFrame?.frameSHA256 {
            do { frame = try frames.get(hash) } catch { reason = "the stored frame could not be read (\(error))" }
        }
        let sameFrame = detections.filter { $0.frameSHA256 != nil && $0.frameSHA256 == withFrame?.frameSHA256 }
        // One box per distinct defect on the frame: the latest of boxes that overlap.
        var distinct: [Detection] = []
        for d in (sameFrame.isEmpty ? [primary] : sameFrame).reversed() {
            guard let b = d.bbox else { continue }
            if !distinct.contains(where: { $0.bbox.map { Self.iou($0, b) > 0.3 } ?? false }) { distinct.append(d) }
        }
        let annotations = distinct.compactMap { BoxAnnotation(detection: $0, severity: draft.severity) }
        let banner = BannerInfo(cameraId: primary.cameraId, assetId: draft.asset, assetName: draft.assetName, timestamp: primary.timestamp,
                                timeZoneIdentifier: timezone, note: primary.zone.map { "zone \($0)" })
        do {
            let severity = draft.severity
            let (fitted, used) = try await BackgroundCPU.run { [frame, reason] in
                try EvidenceRenderer.renderJPEG(frameData: frame, annotations: annotations, banner: banner, severity: severity,
                                                missingFrameReason: reason, maxBytes: maxBytes)
            }
            let hash = try images.put(fitted.data)
            let note = used ? "annotated frame \(fitted.width)×\(fitted.height), \(fitted.data.count) bytes" : "evidence card: \(reason)"
            return Rendered(jpeg: fitted.data, sha256: hash, usedFrame: used, note: note)
        } catch {
            return nil
        }
    }

    static func iou(_ a: BoundingBox, _ b: BoundingBox) -> Double {
        let w = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
        let h = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
        let inter = w * h
        let union = a.area + b.area - inter
        return union > 0 ? inter / union : 0
    }

    /// The link written into the work order: signed and expiring when `public_url` and a
    /// signing secret are configured, otherwise the API path.
    public func link(for sha256: String, now: Date = Date()) -> String {
        let path = "/v1/evidence/\(sha256)"
        guard let base = settings.publicURL else { return path + " (Millwright API)" }
        guard let secret = settings.signingSecret else { return base + path }
        let token = EvidenceLink.sign(hash: sha256, expires: now.addingTimeInterval(settings.linkLifetime.seconds), secret: Data(secret.utf8))
        return base + path + "?" + token
    }
}

extension Gateway {
    /// Renders and records the incident's evidence if it has none yet; returns the draft to send.
    /// What a create sends: the draft (with its evidence link), the image to attach, and
    /// whether rendering it now also renewed the delivery claim (nil: nothing was recorded now,
    /// the caller renews it itself).
    struct PreparedEvidence {
        var draft: WorkOrderDraft
        var image: (jpeg: Data, sha256: String)?
        var claimRenewed: Bool?
    }

    func ensureEvidence(for item: OutboxItem, connector: any CMMSConnector) async -> PreparedEvidence {
        let none = PreparedEvidence(draft: item.draft, image: nil, claimRenewed: nil)
        guard let evidence else { return none }
        do {
            guard let source = try await store.evidenceSource(incidentId: item.incidentId) else { return none }
            if let existing = source.evidenceSHA256 {
                return PreparedEvidence(draft: item.draft, image: (try? evidence.images.get(existing)).map { ($0, existing) }, claimRenewed: nil)
            }
            var detections = source.detections
            var missingFrameReason: String?
            // No frame inline or by URL: the frame the gateway captured nearest the detection, then
            // a snapshot the camera published on its own, if near in time.
            if !detections.contains(where: { $0.frameSHA256 != nil || $0.image?.url != nil }), let last = detections.indices.last {
                switch capture?.frame(camera: detections[last].cameraId, near: detections[last].timestamp) {
                case .frame(let f)?:
                    detections[last].frameSHA256 = try evidence.frames.put(f.jpeg)
                case .missing(let why)?:
                    missingFrameReason = why
                case .notCaptured?, nil:
                    break
                }
                if detections[last].frameSHA256 == nil,
                   let snap = try await store.snapshot(camera: detections[last].cameraId, near: detections[last].timestamp, tolerance: 30) {
                    detections[last].frameSHA256 = snap
                }
            }
            guard let rendered = await evidence.render(incident: detections, draft: item.draft, maxBytes: connector.attachmentLimitBytes,
                                                       missingFrameReason: missingFrameReason) else {
                logger.warning("evidence could not be rendered", metadata: ["incident": "\(item.incidentId)"])
                return none
            }
            var draft = item.draft
            draft.linkEvidence(evidence.link(for: rendered.sha256), timezone: settings.site.timezone)
            let renewed = try await store.recordEvidence(incidentId: item.incidentId, workOrderId: item.workOrderId, fence: item.fence, sha256: rendered.sha256,
                                                         usedFrame: rendered.usedFrame, note: rendered.note, draft: draft, now: Date())
            return PreparedEvidence(draft: draft, image: (rendered.jpeg, rendered.sha256), claimRenewed: renewed)
        } catch {
            logger.warning("evidence step failed; sending without image", metadata: ["incident": "\(item.incidentId)", "error": "\(error)"])
            return none
        }
    }
}

extension Gateway {
    /// A raw JPEG/PNG frame from an MQTT snapshot topic (e.g. Frigate's
    /// `frigate/<camera>/<label>/snapshot`), kept for the camera's next detections.
    public func storeSnapshot(camera: String, image: Data, at: Date = Date()) async throws {
        guard let evidence else { return }
        guard image.starts(with: [0xFF, 0xD8, 0xFF]) || image.starts(with: [0x89, 0x50, 0x4E, 0x47]) else {
            throw FieldProblem(field: "payload", "snapshot is not a JPEG or PNG image")
        }
        guard image.count <= EvidenceService.maxFrameBytes else { throw FieldProblem(field: "payload", "snapshot is larger than \(EvidenceService.maxFrameBytes) bytes") }
        let sha = try evidence.frames.put(image)
        try await store.recordSnapshot(camera: camera, sha256: sha, at: at)
    }
}

import Capture
import Foundation
import Logging
import Metrics
import MillwrightCore
import ServiceLifecycle

/// Runs the capture cameras' decoders and detectors (`CaptureHub`) until graceful shutdown,
/// then ends them. In the plan only when `capture:` names cameras.
public struct CaptureService: Service {
    let hub: CaptureHub
    let gateway: Gateway

    public init(hub: CaptureHub, gateway: Gateway) { self.hub = hub; self.gateway = gateway }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [gateway] in
            await hub.run { report in await Self.ingest(report, gateway: gateway) }
        }
    }

    /// The detectors' counts as gauges, recorded when `/metrics` is read (the counts live in
    /// the detectors): frames analysed, dropped while busy, undecodable, failed in a worker, and
    /// 1 while ready (learnt, or a worker that said it is ready).
    public static func publishMetrics(_ hub: CaptureHub) {
        for s in hub.statuses {
            guard let d = hub.detectorStatus(s.camera) else { continue }
            let camera = [("camera", s.camera)]
            Gauge(label: "millwright_detector_frames_analysed", dimensions: camera).record(d.analysed)
            Gauge(label: "millwright_detector_frames_dropped", dimensions: camera).record(d.dropped)
            Gauge(label: "millwright_detector_frames_unreadable", dimensions: camera).record(d.unreadable)
            Gauge(label: "millwright_detector_frames_failed", dimensions: camera).record(d.failed)
            Gauge(label: "millwright_detector_ready", dimensions: camera).record(d.isReady ? 1 : 0)
        }
    }

    /// Each finding as a native detection carrying the frame, through the same ingest as any
    /// vision system's: validation, confirmation, deduplication, incidents, work orders.
    static func ingest(_ report: DetectorReport, gateway: Gateway) async {
        let body = submission(report)
        var source = Gateway.Source(format: .native, camera: report.camera)
        source.cameraIsAuthoritative = true
        do {
            let r = try await gateway.ingest(body: body, source: source, now: Date())
            for rejected in r.rejected {
                gateway.logger.warning("detector finding refused", metadata: ["camera": "\(report.camera)", "field": "\(rejected.field ?? "")",
                                                                             "problem": "\(rejected.problem)"])
            }
        } catch {
            gateway.logger.warning("detector finding not ingested", metadata: ["camera": "\(report.camera)", "error": "\(error)"])
        }
    }

    /// The native submission for a report: one detection per finding, each with the frame inline
    /// (stored once: evidence frames are content-addressed).
    static func submission(_ report: DetectorReport) -> Data {
        let millis = Int64((report.frame.at.timeIntervalSince1970 * 1000).rounded())
        // A frame the evidence store would refuse inline goes without: the work order then takes
        // the captured frame nearest the detection from the ring, this very frame while it is there.
        let frame: JSONValue? = report.frame.jpeg.count <= EvidenceService.maxFrameBytes ? .string(report.frame.jpeg.base64EncodedString()) : nil
        let items: [JSONValue] = report.findings.enumerated().map { i, f in
            .object([
                "detection_id": .string("\(report.camera)-\(report.idTag)-\(millis)-\(i)"),
                "camera_id": .string(report.camera),
                "timestamp": .string(Timestamps.format(report.frame.at)),
                "defect_class": .string(f.defectClass),
                "confidence": .number(f.confidence),
                "bbox": .object(["x": .number(Double(f.x)), "y": .number(Double(f.y)), "width": .number(Double(f.width)), "height": .number(Double(f.height))]),
                "image": .object(["width": .number(Double(report.frameWidth)), "height": .number(Double(report.frameHeight))]
                    .merging(frame.map { ["data_base64": $0] } ?? [:]) { a, _ in a }),
                "model": .object(["name": .string(report.modelName), "version": .string(report.modelVersion)]),
            ].merging(f.measurements.isEmpty ? [:] : ["measurements": .object(f.measurements.mapValues { .number($0) })]) { a, _ in a })
        }
        return (try? JSONEncoder().encode(JSONValue.array(items))) ?? Data("[]".utf8)
    }
}

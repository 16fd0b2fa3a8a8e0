import Capture
import Foundation
import Logging
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

    /// The model name the reference detector's detections carry.
    public static let modelName = "millwright-reference"

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
        let frame = JSONValue.string(report.frame.jpeg.base64EncodedString())
        let items: [JSONValue] = report.findings.enumerated().map { i, f in
            .object([
                "detection_id": .string("\(report.camera)-ref-\(millis)-\(i)"),
                "camera_id": .string(report.camera),
                "timestamp": .string(Timestamps.format(report.frame.at)),
                "defect_class": .string(report.defectClass),
                "confidence": .number(f.confidence),
                "bbox": .object(["x": .number(Double(f.x)), "y": .number(Double(f.y)), "width": .number(Double(f.width)), "height": .number(Double(f.height))]),
                "image": .object(["width": .number(Double(report.frameWidth)), "height": .number(Double(report.frameHeight)), "data_base64": frame]),
                "model": .object(["name": .string(modelName), "version": .string("1")]),
                "measurements": .object(["area_px": .number(Double(f.areaPx)), "peak_z": .number((f.peakZ * 100).rounded() / 100)]),
            ])
        }
        return (try? JSONEncoder().encode(JSONValue.array(items))) ?? Data("[]".utf8)
    }
}

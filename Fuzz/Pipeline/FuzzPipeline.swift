import Evidence
import Foundation
import Ingest
import MillwrightCore

/// libFuzzer entry for the whole in-process path a detection takes: native payload built from
/// the fuzzer's bytes (numbers by bit pattern, so NaN, ±∞, 1e300 and denormals all occur;
/// strings of any bytes and length) → adapter → validator → incident rules → severity (with a
/// hostile first box for growth) → priority → work-order text → evidence rendered on a
/// generated frame of fuzzed size. Nothing may trap. Built only with MILLWRIGHT_FUZZ=1.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipelineEntry(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var bytes = FuzzBytes(Data(bytes: start, count: count))
    runPipeline(&bytes)
    return 0
}

struct FuzzBytes {
    let data: [UInt8]
    var at = 0
    init(_ d: Data) { data = Array(d) }
    mutating func byte() -> UInt8 { defer { at += 1 }; return at < data.count ? data[at] : 0 }
    mutating func double() -> Double {
        switch byte() % 4 {
        case 0: return Double(byte()) - 20                       // small, often valid
        case 1: return Double(UInt16(byte()) << 8 | UInt16(byte()))
        case 2: return [Double.nan, .infinity, -.infinity, 1e300, -1e300, 1e-300, 0, -0.0, 100_000, 100_000.5][Int(byte()) % 10]
        default:
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(byte()) }
            return Double(bitPattern: bits)
        }
    }
    mutating func string() -> String {
        let n = Int(byte())
        let len = n < 200 ? n % 24 : n * 8     // now and then far past every limit
        var s = [UInt8]()
        for i in 0..<len { s.append(i < data.count - at ? byte() : UInt8(0x41 + i % 26)) }
        return String(decoding: s, as: UTF8.self)
    }
}

func runPipeline(_ b: inout FuzzBytes) {
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    func object() -> [String: Any] {
        var d: [String: Any] = ["camera_id": b.byte() % 3 == 0 ? b.string() : "CAM-07", "defect_class": b.byte() % 3 == 0 ? b.string() : "crack",
                                "timestamp": b.byte() % 4 == 0 ? b.double() : now.timeIntervalSince1970 - Double(b.byte()),
                                "confidence": b.byte() % 3 == 0 ? b.double() : 0.5 + Double(b.byte()) / 512]
        if b.byte() % 4 != 0 { d["bbox"] = ["x": b.double(), "y": b.double(), "width": b.double(), "height": b.double()] }
        if b.byte() % 2 == 0 { d["image"] = ["width": b.double(), "height": b.double()] }
        if b.byte() % 3 == 0 { d["zone"] = b.byte() % 2 == 0 ? "hp" : b.string() }
        if b.byte() % 4 == 0 { d["tracking_id"] = b.string() }
        if b.byte() % 4 == 0 { d["measurements"] = [b.string(): b.double(), "length_mm": b.double()] }
        if b.byte() % 5 == 0 { d["model"] = ["name": b.string(), "version": b.string()] }
        return d
    }
    // JSON cannot carry NaN or ∞: those become the numbers JSON can carry that are closest in spirit.
    func sanitized(_ v: Any) -> Any {
        switch v {
        case let x as Double: return x.isNaN ? 0 : x.isInfinite ? (x > 0 ? Double.greatestFiniteMagnitude : -Double.greatestFiniteMagnitude) : x
        case let o as [String: Any]: return o.mapValues(sanitized)
        default: return v
        }
    }
    let items = (0..<(1 + Int(b.byte() % 3))).map { _ in sanitized(object()) }
    guard let body = try? JSONSerialization.data(withJSONObject: items) else { return }

    var settings = Settings()
    settings.assets.cameras = [CameraMapping(camera: "CAM-07", asset: "A1", zones: ["hp": "A1-HP"], criticality: .a)]
    let rules = PipelineRules(settings: settings, mapper: AssetMapper(cameras: settings.assets.cameras, register: nil))
    let context = AdapterContext(receivedAt: now, maxItems: 100)
    for result in Adapters.decode(body, format: b.byte() % 2 == 0 ? nil : .native, context: context) {
        guard case .success(let d) = result else { continue }
        // The incident decision itself, on snapshots of fuzzed pending detections and history.
        guard case .key(let query, let mapped) = IncidentDecision.query(for: d, id: "fuzz", rules: rules) else { continue }
        let pending = (0..<Int(b.byte() % 3)).map { i in
            PendingDetection(id: "p\(i)", timestampMillis: query.window.fromMillis + Int64(i), confidence: b.double(), bboxArea: b.double())
        }
        let snapshot = KeySnapshot(pending: pending)
        guard case .needsOpening = IncidentDecision.decide(d, id: "fuzz", mapped: mapped, snapshot: snapshot, rules: rules) else { continue }
        let effects = IncidentDecision.open(d, id: "fuzz", mapped: mapped, key: snapshot, opening: OpeningSnapshot(priorIncidents: Int(b.byte())),
                                            ids: ("fuzz-incident", "fuzz-wo"), rules: rules, now: now)
        guard let severity = effects.incident?.severity, let draft = effects.workOrder?.draft else { preconditionFailure("an opening opens an incident") }
        precondition((0...100).contains(severity.total))
        // A frame of any plausible size, unrelated to what the detection claimed.
        let frame = Raster(width: 1 + Int(b.byte()), height: 1 + Int(b.byte()), fill: RGB(120, 124, 130))
        let annotations = [BoxAnnotation(detection: d, severity: severity.total)].compactMap { $0 }
        let banner = BannerInfo(cameraId: d.cameraId, assetId: draft.asset, timestamp: d.timestamp)
        _ = EvidenceRenderer.render(frame: frame, annotations: annotations, banner: banner, severity: severity.total)
    }
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzPipeline_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzPipelineEntry(data, size)
    }
}

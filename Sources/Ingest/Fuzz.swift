import Foundation
import MillwrightCore

/// libFuzzer-style entry point: feeds arbitrary bytes through JSON parsing, format detection and
/// every adapter. It must never trap; it checks the adapters' own promises and traps (on
/// purpose, so a fuzzer reports it) only if one of them is broken:
/// - every returned detection passes `DetectionValidator`,
/// - problem indices are within the result list,
/// - decoding is deterministic (same bytes -> same results).
///
/// Wire it to libFuzzer with a tiny executable:
/// `@_cdecl("LLVMFuzzerTestOneInput") func f(_ p: UnsafePointer<UInt8>, _ n: Int) -> CInt {
///   fuzzAdapters(Data(bytes: p, count: n)); return 0 }` and `swift build -Xswiftc -sanitize=fuzzer`.
public func fuzzAdapters(_ data: Data) {
    let context = AdapterContext(
        cameraId: "FUZZ-CAM", labelMap: ["Crack": "crack", "rust": "corrosion"],
        cocoCategories: [1: "crack"], frigateBaseURL: "http://nvr.example:5000",
        receivedAt: Date(timeIntervalSince1970: 1_795_000_000), maxItems: 2_000)
    guard let json = try? JSONValue.parse(data) else {
        _ = Adapters.decode(data, format: nil, context: context)
        return
    }
    _ = Adapters.detect(json)
    for format in [nil] + VisionFormat.allCases.map(Optional.some) {
        let results = Adapters.decode(json, format: format, context: context)
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let d):
                do throws(FieldProblem) { try DetectionValidator.validate(d, now: context.receivedAt) }
                catch { preconditionFailure("adapter \(format?.rawValue ?? "auto") returned an invalid detection: \(error)") }
            case .failure(let p):
                precondition(p.index == i, "problem index \(p.index) at position \(i)")
            }
        }
        precondition(results == Adapters.decode(json, format: format, context: context), "decode is not deterministic")
    }
}

import Foundation
import Testing
import MillwrightCore
@testable import Ingest

/// 2026-11-21T02:15:00Z — one minute after the fixtures' detections.
let receivedAt = Date(timeIntervalSince1970: 1_795_227_300)

func fixtureData(_ path: String) throws -> Data {
    let base = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return try Data(contentsOf: base.appendingPathComponent(path))
}

func fixture(_ path: String) throws -> JSONValue {
    try JSONValue.parse(fixtureData(path))
}

func json(_ text: String) throws -> JSONValue {
    try JSONValue.parse(Data(text.utf8))
}

func context(
    camera: String? = nil, preferContext: Bool = false, labels: [String: String] = ["Crack": "crack", "rust": "corrosion"],
    coco: [Int: String] = [:], frigate: String? = nil, at: Date = receivedAt, messageKey: String? = nil,
    assumed: Double? = nil
) -> AdapterContext {
    AdapterContext(cameraId: camera, preferContextCamera: preferContext, labelMap: labels, cocoCategories: coco,
                   frigateBaseURL: frigate, receivedAt: at, messageKey: messageKey, assumedConfidence: assumed)
}

extension Result where Success == Detection, Failure == IndexedProblem {
    var detection: Detection? { if case .success(let d) = self { return d }; return nil }
    var problem: IndexedProblem? { if case .failure(let p) = self { return p }; return nil }
}

func detections(_ results: [Result<Detection, IndexedProblem>], sourceLocation: SourceLocation = #_sourceLocation) -> [Detection] {
    for r in results { if let p = r.problem { Issue.record("unexpected problem: \(p)", sourceLocation: sourceLocation) } }
    return results.compactMap(\.detection)
}

func iso(_ s: String) -> Date { Timestamps.parseISO(s)! }

func approx(_ a: Double?, _ b: Double, _ eps: Double = 1e-9) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= eps
}

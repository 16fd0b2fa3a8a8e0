@testable import Capture
import Foundation
import MillwrightCore
import Testing

/// The JSON lines a `kind: command` worker and the gateway exchange, without a process.
@Suite struct WorkerProtocolTests {
    func decode(_ s: String) throws(WorkerProtocol.Garbage) -> WorkerProtocol.Message { try WorkerProtocol.decode(Data(s.utf8)) }

    @Test func theFrameLineCarriesTheJPEGInBase64() throws {
        let jpeg = Data([0xFF, 0xD8, 0x00, 0x01, 0xFF, 0xD9])
        let line = WorkerProtocol.request(id: 7, camera: "CAM-\"1\"", width: 1920, height: 1080, jpeg: jpeg)
        #expect(line.last == 10)
        #expect(line.dropLast().firstIndex(of: 10) == nil, "one line")
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""id":7"#) && !text.contains("7.0"), "whole numbers, as a worker in any language reads them: \(text)")
        let o = try #require(try JSONSerialization.jsonObject(with: line.dropLast()) as? [String: Any])
        #expect(o["id"] as? Int == 7 && o["camera"] as? String == "CAM-\"1\"" && o["width"] as? Int == 1920 && o["height"] as? Int == 1080)
        #expect(Data(base64Encoded: o["jpeg_b64"] as? String ?? "") == jpeg)
    }

    @Test func readyAnswersAndErrorsAreRead() throws {
        #expect(try decode(#"{"ready": true}"#) == .ready(modelName: nil, modelVersion: nil))
        #expect(try decode(#"{"ready": true, "model": {"name": "line3", "version": 4}}"#) == .ready(modelName: "line3", modelVersion: "4"))
        #expect(try decode(#"{"id": 3, "detections": []}"#) == .answer(id: 3, detections: []))
        #expect(try decode(#"{"id": 3, "detections": [{"class": "crack", "confidence": 0.9, "box": [1, 2.5, 30, 40]}, {"class": 2, "confidence": 1, "box": [0, 0, 0, 0]}]}"#)
                == .answer(id: 3, detections: [.init(classRef: .name("crack"), confidence: 0.9, box: [1, 2.5, 30, 40]),
                                               .init(classRef: .index(2), confidence: 1, box: [0, 0, 0, 0])]))
        #expect(try decode(#"{"id": 4, "error": "CUDA out of memory"}"#) == .failed(id: 4, why: "CUDA out of memory"))
        let long = String(repeating: "e", count: 5000)
        #expect(try decode(#"{"id": 4, "error": "\#(long)"}"#) == .failed(id: 4, why: String(long.prefix(WorkerProtocol.maxErrorBytes))))
    }

    @Test(arguments: [
        "Traceback (most recent call last):",
        "[1, 2]",
        #"{"ready": false}"#,
        #"{"ready": true, "model": "yolo"}"#,
        #"{"detections": []}"#,
        #"{"id": -1, "detections": []}"#,
        #"{"id": 1.5, "detections": []}"#,
        #"{"id": "7", "detections": []}"#,
        #"{"id": 7}"#,
        #"{"id": 7, "error": 3}"#,
        #"{"id": 7, "detections": {}}"#,
        #"{"id": 7, "detections": [{"confidence": 0.9, "box": [0, 0, 1, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": 1.5, "confidence": 0.9, "box": [0, 0, 1, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "", "confidence": 0.9, "box": [0, 0, 1, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "c", "confidence": 1.2, "box": [0, 0, 1, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "c", "confidence": 0.9, "box": [0, 0, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "c", "confidence": 0.9, "box": [0, 0, -1, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "c", "confidence": 0.9, "box": [0, 0, 1e300, 1]}]}"#,
        #"{"id": 7, "detections": [{"class": "c", "confidence": 0.9, "box": [0, "0", 1, 1]}]}"#,
    ])
    func anythingElseIsGarbage(_ line: String) {
        #expect(throws: WorkerProtocol.Garbage.self) { try decode(line) }
    }

    @Test func answersAreBounded() {
        let one = #"{"class": "c", "confidence": 0.9, "box": [0, 0, 1, 1]}"#
        let many = Array(repeating: one, count: WorkerProtocol.maxDetections + 1).joined(separator: ",")
        #expect(throws: WorkerProtocol.Garbage.self) { try decode(#"{"id": 1, "detections": [\#(many)]}"#) }
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: WorkerProtocol.Garbage.self) { try decode(deep) }
        #expect(throws: WorkerProtocol.Garbage.self) { try WorkerProtocol.decode(Data(count: WorkerProtocol.maxLineBytes + 1)) }
        #expect(throws: WorkerProtocol.Garbage.self) { try decode(#"{"id": 1, "detections": [{"class": "\#(String(repeating: "c", count: 101))", "confidence": 0.9, "box": [0, 0, 1, 1]}]}"#) }
    }

    @Test func findingsAreNamedFilteredClippedAndSorted() {
        let ds: [WorkerProtocol.Detection] = [
            .init(classRef: .index(0), confidence: 0.7, box: [10.4, 20.6, 30, 40]),
            .init(classRef: .name("dent"), confidence: 0.95, box: [-50, -50, 100, 100]),  // clipped to the frame
            .init(classRef: .index(1), confidence: 0.3, box: [0, 0, 10, 10]),            // under the threshold
            .init(classRef: .index(5), confidence: 0.9, box: [0, 0, 10, 10]),            // no label
            .init(classRef: .index(0), confidence: 0.8, box: [700, 10, 20, 20]),         // outside the frame
        ]
        let (kept, refused) = WorkerProtocol.findings(ds, labels: ["crack", "corrosion"], threshold: 0.5, frameWidth: 640, frameHeight: 480, limit: 16)
        #expect(kept == [.init(defectClass: "dent", confidence: 0.95, x: 0, y: 0, width: 50, height: 50),
                         .init(defectClass: "crack", confidence: 0.7, x: 10, y: 20, width: 31, height: 41)])
        #expect(refused.count == 2 && refused[0].contains("class 5 has no label") && refused[1].contains("outside"), "\(refused)")
        let noLabels = WorkerProtocol.findings([ds[0]], labels: [], threshold: 0.5, frameWidth: 640, frameHeight: 480, limit: 16)
        #expect(noLabels.kept.isEmpty && noLabels.refused.first?.contains("no labels") == true)
        let limited = WorkerProtocol.findings(Array(repeating: ds[1], count: 40), labels: [], threshold: 0, frameWidth: 640, frameHeight: 480, limit: 16)
        #expect(limited.kept.count == 16)
    }

    @Test func linesAreSplitAndAnEndlessOneIsCutOffNotBuffered() {
        var lines = WorkerLines(maxBytes: 10)
        #expect(lines.feed(Data("ab".utf8)) == [])
        #expect(lines.feed(Data("c\r\n\nde\nf".utf8)) == [.line(Data("abc".utf8)), .line(Data("de".utf8))])
        // Over the bound: reported once, the rest of the line dropped as it comes.
        #expect(lines.feed(Data(repeating: 65, count: 15)) == [.tooLong])
        for _ in 0..<1000 { #expect(lines.feed(Data(repeating: 65, count: 4096)) == []) }
        #expect(lines.feed(Data("x\nok\n".utf8)) == [.line(Data("ok".utf8))])
    }
}

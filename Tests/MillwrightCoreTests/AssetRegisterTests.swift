import Foundation
import MillwrightCore
import Testing

@Suite struct AssetRegisterTests {
    @Test func parsesARawExportWithQuotesAndExtraColumns() throws {
        let csv = "\u{FEFF}Asset_ID,Name,Location,Criticality,Cost Center\r\n10004711,\"Conveyor C2, drive\",Bay 4,A,4711\r\n10004712,\"Pulley \"\"HD\"\"\",Bay 4,b,4711\r\n\r\n"
        let r = try AssetRegister.parse(csv: csv, file: "assets.csv")
        #expect(r.records.count == 2)
        #expect(r.records["10004711"]?.name == "Conveyor C2, drive")
        #expect(r.records["10004712"]?.name == "Pulley \"HD\"")
        #expect(r.records["10004712"]?.criticality == .b)
        #expect(r.records["10004712"]?.line == 3)
    }

    @Test func missingIdColumnIsAClearError() {
        #expect(throws: FieldProblem.self) { try AssetRegister.parse(csv: "name,location\nx,y\n", file: "a.csv") }
    }

    @Test func validationReportsEveryKindWithLines() throws {
        let reg = try AssetRegister.parse(csv: "asset_id,criticality\nA1,A\nA2,B\nA2,B\n", file: "reg.csv")
        let cams = [
            CameraMapping(camera: "C1", asset: "A1", criticality: .b, line: 10),      // mismatched criticality
            CameraMapping(camera: "C2", asset: "A2", zones: ["z": "A9"], line: 11),    // duplicate A2, missing A9
            CameraMapping(camera: "C1", asset: "A1", criticality: .a, line: 12),      // camera twice
        ]
        let issues = AssetValidation.check(cameras: cams, register: reg, registerFile: "reg.csv", configFile: "plant.yaml",
                                           knownCMMS: [], seenCameras: ["C1", "C7"])
        let kinds = issues.map(\.kind)
        #expect(kinds.contains(.mismatched))
        #expect(kinds.contains(.duplicate))
        #expect(kinds.contains(.missing))
        #expect(kinds.contains(.duplicateCamera))
        #expect(kinds.contains(.unmapped))
        #expect(issues.contains { $0.message.contains("reg.csv: asset A2 appears on lines 3, 4") })
        #expect(issues.contains { $0.message.hasPrefix("plant.yaml:11") && $0.message.contains("A9") })
        #expect(issues.contains { $0.message.contains("camera C7") })
    }
}

@Suite struct DetectionValidationTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func parse(_ json: String) throws -> Detection {
        try NativeDetection.parse(try JSONValue.parse(Data(json.utf8)))
    }

    @Test func nativeSchemaRoundTrip() throws {
        let d = try parse(#"{"detection_id":"CAM-07-1","camera_id":"CAM-07","timestamp":"2026-11-21T02:14:00.123Z","defect_class":"crack","confidence":0.93,"bbox":{"x":412,"y":220,"width":64,"height":18},"image":{"width":1920,"height":1080,"url":"http://nvr/f.jpg","data_base64":null},"zone":"head-pulley","production_order":"PO-4471","shift":"B","model":{"name":"weld-yolo","version":"3.2"},"measurements":{"length_mm":12.5}}"#)
        #expect(d.detectionId == "CAM-07-1")
        #expect(d.bbox == BoundingBox(x: 412, y: 220, width: 64, height: 18))
        #expect(abs(d.timestamp.timeIntervalSince1970 - 1_795_227_240.123) < 0.0005)
        #expect(d.measurements?["length_mm"] == 12.5)
        #expect(d.model?.version == "3.2")
    }

    @Test func wrongTypesNameTheField() throws {
        do { _ = try parse(#"{"camera_id":"C","timestamp":"2026-11-21T02:14:00Z","defect_class":"crack","confidence":"high"}"#); Issue.record("accepted") } catch let p as FieldProblem {
            #expect(p.field == "confidence")
        } catch { Issue.record("\(error)") }
        do { _ = try parse(#"{"camera_id":7,"timestamp":"2026-11-21T02:14:00Z","defect_class":"crack","confidence":0.9}"#); Issue.record("accepted") } catch let p as FieldProblem {
            #expect(p.field == "camera_id")
        } catch { Issue.record("\(error)") }
        // A model version that is neither text nor a number is refused, not dropped.
        do { _ = try parse(#"{"camera_id":"C","timestamp":"2026-11-21T02:14:00Z","defect_class":"crack","confidence":0.9,"model":{"version":{}}}"#); Issue.record("accepted") } catch let p as FieldProblem {
            #expect(p.field == "model.version")
        } catch { Issue.record("\(error)") }
        #expect(try parse(#"{"camera_id":"C","timestamp":"2026-11-21T02:14:00Z","defect_class":"crack","confidence":0.9,"model":{"version":7}}"#).model?.version == "7")
    }

    @Test func semanticChecks() throws {
        var d = Detection(cameraId: "C", timestamp: now, defectClass: "crack", confidence: 0.9,
                          bbox: BoundingBox(x: 1900, y: 0, width: 64, height: 10), image: ImageRef(width: 1920, height: 1080))
        #expect(throws: FieldProblem(field: "bbox", "extends past the image's right edge (x + width = 1964.0 > image.width 1920)")) {
            try DetectionValidator.validate(d, now: now)
        }
        d.bbox = nil
        d.confidence = .nan
        #expect(throws: FieldProblem.self) { try DetectionValidator.validate(d, now: now) }
        d.confidence = 0.9
        d.timestamp = now.addingTimeInterval(301)
        #expect(throws: FieldProblem.self) { try DetectionValidator.validate(d, now: now) }
        d.timestamp = now.addingTimeInterval(299)
        try DetectionValidator.validate(d, now: now)
    }
}

extension DetectionValidationTests {
    /// Found by the adapters' fuzzer: a huge epoch must be a problem, not a trap.
    @Test func absurdTimestampsAreRejectedNotFatal() throws {
        #expect(throws: FieldProblem.self) { try parse(#"{"camera_id":"C","timestamp":1e300,"defect_class":"crack","confidence":0.9}"#) }
        let far = Detection(cameraId: "C", timestamp: Date(timeIntervalSince1970: 1e15), defectClass: "crack", confidence: 0.9)
        #expect(throws: FieldProblem.self) { try DetectionValidator.validate(far, now: now) }
    }
}

import Foundation
import MillwrightCore
import Testing

@Suite struct UNSTopicTemplateTests {
    let isa95 = "{enterprise}/{site}/{area}/{line}/{asset}/vision/{camera}"

    @Test func rendersTheISA95Path() throws {
        let t = try UNSTopicTemplate(parsing: isa95)
        let values = ["enterprise": "acme", "site": "plant-1", "area": "line-2", "line": "C2", "asset": "10004711", "camera": "CAM-1"]
        #expect(t.render(values) == "acme/plant-1/line-2/C2/10004711/vision/CAM-1")
        #expect(t.placeholdersUsed == ["enterprise", "site", "area", "line", "asset", "camera"])
        #expect(t.unfilled(values).isEmpty)
    }

    @Test func theDefaultIsMillwrightsOwnTree() {
        #expect(UNSTopicTemplate.legacy(prefix: "millwright").render(["site": "plant-1", "camera": "CAM-07"]) == "millwright/plant-1/CAM-07")
    }

    @Test func valuesAreSanitisedIntoOneNonEmptyLevel() throws {
        let t = try UNSTopicTemplate(parsing: "{site}/{area}/cam-{camera}")
        #expect(t.render(["site": "plant/1", "area": " Bay #4+5 ", "camera": "A\u{0}B"]) == "plant_1/Bay _4_5/cam-A_B")
        // Empty, or only whitespace: the placeholder cannot be filled, so no topic (no empty level).
        #expect(t.render(["site": "p", "area": "  ", "camera": "c"]) == nil)
        #expect(t.unfilled(["site": "p", "area": "", "camera": "c"]) == ["area"])
        #expect(t.unfilled(["camera": "c"]) == ["site", "area"])
        let long = String(repeating: "é", count: 100)
        let cut = try #require(UNSTopicTemplate.sanitise(long))
        #expect(cut.utf8.count <= UNSTopicTemplate.maxValueBytes)
        #expect(cut == String(repeating: "é", count: UNSTopicTemplate.maxValueBytes / 2))
    }

    @Test(arguments: [
        ("{enterprise}/{plant}/{camera}", "unknown placeholder {plant}"),
        ("acme/+/{camera}", "wildcard"),
        ("acme/#/{camera}", "wildcard"),
        ("acme//{camera}", "empty topic level"),
        ("/acme/{camera}", "empty topic level"),
        ("acme/{camera}/", "empty topic level"),
        ("$SYS/{camera}", "must not start with '$'"),
        ("acme/{site}", "must contain {camera}"),
        ("acme/{camera", "without its '}'"),
        ("acme/camera}", "without its '{'"),
        ("", "1 to 512 bytes"),
    ]) func badTemplatesAreRefused(_ text: String, _ problem: String) {
        #expect {
            try UNSTopicTemplate(parsing: text)
        } throws: { error in
            (error as? FieldProblem)?.problem.contains(problem) == true
        }
    }

    @Test func aLongTemplateIsRefused() {
        #expect(throws: FieldProblem.self) { try UNSTopicTemplate(parsing: String(repeating: "a/", count: 300) + "{camera}") }
    }

    @Test func aCameraTakesAreaFromItselfElseTheRegisterAndLocationFromTheRegister() {
        var cam = CameraMapping(camera: "CAM-1", asset: "10004711")
        cam.productionLine = "C2"
        let register = AssetRegister(records: [AssetRecord(assetId: "10004711", location: "Bay 4", area: "line-2", line: 2)])
        var v = UNSTopicTemplate.values(camera: cam, site: "plant-1", enterprise: "acme", register: register)
        #expect(v == ["enterprise": "acme", "site": "plant-1", "area": "line-2", "line": "C2", "location": "Bay 4", "asset": "10004711", "camera": "CAM-1"])
        cam.area = "hall-3"
        v = UNSTopicTemplate.values(camera: cam, site: "plant-1", enterprise: nil, register: nil)
        #expect(v["area"] == "hall-3")
        #expect(v["enterprise"] == nil && v["location"] == nil)
    }
}

@Suite struct FloorStateTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aDetectionBringsTheCameraOnlineAndSilenceTakesItOffline() {
        var s = FloorState(cameras: ["CAM-1", "CAM-2"], offlineAfter: 300)
        #expect(s["CAM-1"]?.online == false)
        #expect(s.nextExpiry == nil)
        let tracked = s.detection(camera: "CAM-1", defectClass: "crack", confidence: 0.93, reject: true, at: t0.addingTimeInterval(-1), now: t0)
        #expect(tracked)
        let c = s["CAM-1"]
        #expect(c?.online == true && c?.reject == true && c?.lastDefectClass == "crack" && c?.lastConfidence == 0.93)
        #expect(c?.lastDetectionAt == t0.addingTimeInterval(-1))
        #expect(s.nextExpiry == t0.addingTimeInterval(300))
        #expect(s.expire(now: t0.addingTimeInterval(299)).isEmpty)
        #expect(s.expire(now: t0.addingTimeInterval(300)) == ["CAM-1"])
        #expect(s["CAM-1"]?.online == false)
        // Once offline it is not reported again.
        #expect(s.expire(now: t0.addingTimeInterval(900)).isEmpty)
    }

    @Test func unknownCamerasAreNotTracked() {
        var s = FloorState(cameras: ["CAM-1"])
        let detected = s.detection(camera: "CAM-X", defectClass: "crack", confidence: 0.9, reject: false, at: t0, now: t0)
        let counted = s.counts(camera: "CAM-X", openIncidents: 1, severity: 70, pendingWorkOrders: 1)
        #expect(!detected && !counted)
        #expect(s.cameras.keys.sorted() == ["CAM-1"])
    }

    @Test func countsReportWhetherTheyChangedAndSeverityNeedsAnOpenIncident() {
        var s = FloorState(cameras: ["CAM-1"])
        let first = s.counts(camera: "CAM-1", openIncidents: 2, severity: 78, pendingWorkOrders: 1)
        let same = s.counts(camera: "CAM-1", openIncidents: 2, severity: 78, pendingWorkOrders: 1)
        let closed = s.counts(camera: "CAM-1", openIncidents: 0, severity: 78, pendingWorkOrders: 0)
        #expect(first && !same && closed)
        #expect(s["CAM-1"]?.severity == nil)
    }
}

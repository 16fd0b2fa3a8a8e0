import Foundation
import MillwrightCore
import Testing

@Suite struct QualityTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func wilsonIntervalMatchesTheTextbookValues() throws {
        // 8 of 10: the 95 % Wilson interval is 0.490 … 0.943 (Newcombe 1998, table I method 3).
        let p = try #require(Proportion.wilson(successes: 8, trials: 10))
        #expect(p.value == 0.8)
        #expect(abs(p.low - 0.4902) < 0.0005)
        #expect(abs(p.high - 0.9433) < 0.0005)
        // All or nothing stays inside 0…1 and is not a zero-width interval.
        let all = try #require(Proportion.wilson(successes: 3, trials: 3))
        #expect(abs(all.high - 1) < 1e-9 && all.low > 0.4 && all.low < 0.5)
        let none = try #require(Proportion.wilson(successes: 0, trials: 3))
        #expect(none.low == 0 && none.high > 0.5 && none.high < 0.6)
        #expect(Proportion.wilson(successes: 0, trials: 0) == nil)
        #expect(Proportion.wilson(successes: 4, trials: 3) == nil)
    }

    @Test func medianOfOddAndEvenCounts() {
        #expect(Stats.median([]) == nil)
        #expect(Stats.median([5, 1, 3]) == 3)
        #expect(Stats.median([4, 1, 3, 2]) == 2.5)
    }

    func det(_ id: String, camera: String = "CAM-1", defect: String = "crack", model: String? = nil, at offset: TimeInterval, incident: String? = nil) -> DetectionFact {
        DetectionFact(id: id, camera: camera, defectClass: defect, zone: "", asset: "A1", model: model,
                      timestampMillis: Timestamps.millis(t0.addingTimeInterval(offset)), confidence: 0.9, incidentId: incident)
    }

    func inc(_ id: String, camera: String = "CAM-1", defect: String = "crack", at offset: TimeInterval, verdict: Verdict?,
             ack: TimeInterval? = nil, done: TimeInterval? = nil) -> IncidentFact {
        let opened = t0.addingTimeInterval(offset)
        return IncidentFact(id: id, camera: camera, defectClass: defect, zone: "", model: nil, openedAt: opened,
                            closedAt: done.map { opened.addingTimeInterval($0) }, resolution: done == nil ? nil : .completed, verdict: verdict,
                            acknowledgedAt: ack.map { opened.addingTimeInterval($0) })
    }

    @Test func groupsCountVerdictsPrecisionAndMedians() throws {
        let detections = [det("d1", at: 0), det("d2", at: 10), det("d3", camera: "CAM-2", at: 20)]
        let incidents = [
            inc("i1", at: 0, verdict: .confirmed, ack: 60, done: 3600),
            inc("i2", at: 100, verdict: .falsePositive, ack: 120),
            inc("i3", at: 200, verdict: nil),
            inc("i4", camera: "CAM-2", at: 300, verdict: .falsePositive),
        ]
        let r = QualityReport.compute(detections: detections, incidents: incidents, by: .camera, since: t0, until: t0.addingTimeInterval(86_400), truncated: false)
        #expect(r.groups.map(\.key) == ["CAM-1", "CAM-2"])
        let cam1 = r.groups[0]
        #expect(cam1.detections == 2 && cam1.incidents == 3 && cam1.confirmed == 1 && cam1.falsePositive == 1 && cam1.unjudged == 1)
        #expect(cam1.precision?.value == 0.5)
        #expect(cam1.medianSecondsToAcknowledge == 90)
        #expect(cam1.medianSecondsToComplete == 3600)
        let cam2 = r.groups[1]
        #expect(cam2.precision?.value == 0 && cam2.medianSecondsToAcknowledge == nil)
        // One day, one bucket: everything lands in it.
        #expect(r.series.count == 1)
        #expect(r.series[0].detections == 3 && r.series[0].incidents == 4 && r.series[0].precision == 1.0 / 3)
    }

    @Test func groupsByModelAndZoneNameTheMissingOnes() {
        let detections = [det("d1", model: "yolo@8", at: 0), det("d2", at: 1)]
        let byModel = QualityReport.compute(detections: detections, incidents: [], by: .model, since: t0, until: t0.addingTimeInterval(60), truncated: false)
        #expect(byModel.groups.map(\.key) == [QualityReport.unknownGroup, "yolo@8"])
        let byZone = QualityReport.compute(detections: detections, incidents: [], by: .zone, since: t0, until: t0.addingTimeInterval(60), truncated: false)
        #expect(byZone.groups.map(\.key) == [QualityReport.unknownGroup])
    }

    @Test func theSeriesIsBoundedAndPlacesEachItemInItsBucket() {
        let detections = (0..<10).map { det("d\($0)", at: Double($0) * 86_400) }
        let r = QualityReport.compute(detections: detections, incidents: [], by: .camera, since: t0, until: t0.addingTimeInterval(10 * 86_400), truncated: false)
        #expect(r.series.count == 10)
        #expect(r.series.allSatisfy { $0.detections == 1 })
        // A year at most 120 buckets wide: the step widens, nothing is dropped.
        let year = QualityReport.compute(detections: detections, incidents: [], by: .camera, since: t0, until: t0.addingTimeInterval(366 * 86_400), truncated: false)
        #expect(year.series.count <= 120)
        #expect(year.series.map(\.detections).reduce(0, +) == 10)
    }
}

@Suite struct StoredZipTests {
    @Test func crc32MatchesTheCheckValue() {
        // The CRC-32/ISO-HDLC check value of "123456789".
        #expect(CRC32.checksum(Data("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum(Data()) == 0)
    }

    @Test func anArchiveIsReadByPythonsZipfile() throws {
        var zip = StoredZipWriter(date: Date(timeIntervalSince1970: 1_790_000_000))
        var bytes = try zip.entry(name: "images/a.jpg", data: Data([0xFF, 0xD8, 0xFF, 0xD9]))
        bytes += try zip.entry(name: "manifest.json", data: Data("{}".utf8))
        bytes += zip.finish()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mw-zip-\(UUID().uuidString).zip")
        try bytes.write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        // An independent reader: Python's zipfile checks every header and CRC (testzip).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(','.join(z.namelist()))", path.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "images/a.jpg,manifest.json\n")
    }

    @Test func theWriterRefusesPastItsEntryLimit() throws {
        var zip = StoredZipWriter(date: Date())
        for i in 0..<StoredZipWriter.maxEntries { _ = try zip.entry(name: "\(i)", data: Data()) }
        #expect(throws: StoredZipWriter.Failure.tooManyEntries) { _ = try zip.entry(name: "one more", data: Data()) }
    }
}

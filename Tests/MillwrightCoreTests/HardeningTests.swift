import Foundation
import MillwrightCore
import Testing

/// Hostile numbers and strings at the core: each would have crashed or bloated the gateway.
@Suite struct HardeningTests {
    let now = Date()
    func det(bbox: BoundingBox? = nil, image: ImageRef? = nil, camera: String = "CAM-07") -> Detection {
        Detection(cameraId: camera, timestamp: now, defectClass: "crack", confidence: 0.9, bbox: bbox, image: image)
    }

    func problem(_ d: Detection) -> FieldProblem? {
        do throws(FieldProblem) { try DetectionValidator.validate(d, now: now); return nil } catch { return error }
    }

    @Test func checkedConversionsNeverTrap() {
        #expect(Checked.int(.nan, clampedTo: 0...100) == 0)
        #expect(Checked.int(.infinity, clampedTo: 0...100) == 100)
        #expect(Checked.int(-1e300, clampedTo: -5...5) == -5)
        #expect(Checked.int(41.5, clampedTo: 0...100) == 42)
        #expect(Checked.exactInt(1e300, in: 0...Int.max) == nil)
        #expect(Checked.exactInt(3.5, in: 0...10) == nil)
        #expect(Checked.exactInt(7, in: 0...10) == 7)
        #expect(Checked.percent(.nan) == 0)
    }

    /// Issue case 1: a 1e-6 px first box then a frame-sized one made the growth ratio overflow Int.
    @Test func severityOfAGrowthRatioBeyondIntIsBounded() {
        let input = SeverityModel.Input(base: 70, bbox: BoundingBox(x: 0, y: 0, width: 1900, height: 1000), frameWidth: 1920, frameHeight: 1080,
                                        measurements: nil, firstArea: 1e-12, criticality: .a, priorIncidents: 0)
        let s = SeverityModel.score(input)
        #expect(s.total == 100)
        #expect(s.growth == SeverityModel.maxGrowth)
        #expect(s.notes.contains { $0.hasPrefix("grew ") })
    }

    /// Tiny boxes are refused at the door, whatever the severity model would do with them.
    @Test func boxesHaveAbsoluteBounds() {
        #expect(problem(det(bbox: BoundingBox(x: 0, y: 0, width: 1e-6, height: 1e-6)))?.field == "bbox")
        #expect(problem(det(bbox: BoundingBox(x: 1e300, y: 0, width: 10, height: 10)))?.field == "bbox.x")
        #expect(problem(det(bbox: BoundingBox(x: 99_999, y: 0, width: 10, height: 10)))?.field == "bbox")
        #expect(problem(det(bbox: BoundingBox(x: 10, y: 10, width: 0.5, height: 0.5))) == nil)
        #expect(problem(det(image: ImageRef(width: 50_001, height: 10)))?.field == "image.width")
        var d = det()
        d.measurements = ["length_mm": 1e12]
        #expect(problem(d)?.field == "measurements.length_mm")
    }

    /// Issue case 11: limits are in UTF-8 bytes, and invisible reordering characters are refused.
    @Test func identifiersAreBoundedInBytesAndFreeOfBidiControls() {
        let combining = "A" + String(repeating: "\u{0301}", count: 200_000)
        #expect(combining.count == 1)
        #expect(problem(det(camera: combining))?.problem.contains("bytes") == true)
        #expect(problem(det(camera: "CAM-\u{202E}70"))?.problem.contains("U+202E") == true)
        #expect(problem(det(camera: "CAM-\u{2066}7")) != nil)
        #expect(problem(det(camera: String(repeating: "é", count: 65)))?.field == "camera_id")
        #expect(problem(det(camera: String(repeating: "é", count: 64))) == nil)
        var d = det()
        d.trackingId = String(repeating: "x", count: 6 << 20)
        #expect(problem(d)?.field == "tracking_id")
        d = det()
        d.model = ModelInfo(name: String(repeating: "m", count: 129))
        #expect(problem(d)?.field == "model.name")
        d = det(image: ImageRef(url: "http://nvr/" + String(repeating: "a", count: 5000)))
        #expect(problem(d)?.field == "image.url")
    }

    /// Printable ASCII takes a path without Unicode lookups; both paths give the same answers.
    @Test func identifierRulesHoldOnTheASCIIPathAndTheUnicodePath() {
        let empty = "must not be empty"
        for blank in [" ", "   ", "\t", " \t ", "\u{00A0}", "\u{3000} "] {
            #expect(problem(det(camera: blank))?.problem == empty, "\(blank.unicodeScalars.map(\.value))")
        }
        for fine in ["CAM-1", " CAM 1 ", "~!@#$%^&*()_+{}|:<>?", "Kamera-Ü1", "カメラ1"] {
            #expect(problem(det(camera: fine)) == nil, "\(fine)")
        }
        for bad in ["CAM\u{7F}", "CAM\n1", "CAM\u{0}", "CAM\u{2028}", "Ü\u{1B}"] {
            #expect(problem(det(camera: bad))?.problem.contains("control character") == true, "\(bad.unicodeScalars.map(\.value))")
        }
    }

    /// The shortcut past Foundation's trimming gives Foundation's answer, for both sets.
    @Test func trimmingWhitespaceAgreesWithFoundation() {
        let ends = ["", " ", "\t", "\n", "\u{0B}", "\u{0C}", "\r", "\u{85}", "\u{A0}", "\u{2028}", "\u{3000}", "x", "é", "~", "\u{0}"]
        var compared = 0
        for head in ends {
            for tail in ends {
                for middle in ["", "crack", "a b", "\u{A0}"] {
                    let s = head + middle + tail
                    #expect(s.trimmingWhitespace() == s.trimmingCharacters(in: .whitespacesAndNewlines), "\(s.unicodeScalars.map(\.value))")
                    #expect(s.trimmingWhitespace(.whitespaces) == s.trimmingCharacters(in: .whitespaces), "\(s.unicodeScalars.map(\.value))")
                    compared += 1
                }
            }
        }
        #expect(compared == 900)
    }

    /// Issue case 10: `timeout: 1e17s` overflowed the milliseconds and crashed start-up.
    @Test func absurdDurationsDoNotParse() {
        #expect(Duration.parse("1e17s") == nil)
        #expect(Duration.parse("200y") == nil)
        #expect(Duration.parse("101d") == .seconds(101 * 86_400))
        #expect(Duration.parse("nan") == nil)
    }

    @Test func threeCrashesInFlightQuarantine() {
        let t = Date()
        var s = DeliveryState()
        for n in 1...3 {
            #expect(s.claim(now: t.addingTimeInterval(Double(n))) != .none)
            s.recoverAfterRestart(now: t.addingTimeInterval(Double(n)), step: "evidence rendering")
        }
        #expect(s.phase == .quarantined)
        #expect(s.lastError?.contains("evidence rendering") == true)
        #expect(s.claim(now: t.addingTimeInterval(10)) == .none)
        let redriven = s.redrive(now: t)
        #expect(redriven)
        #expect(s.crashes == 0 && s.phase == .pending)
    }

    @Test func anOutcomeClearsTheCrashCount() {
        let t = Date()
        var s = DeliveryState()
        _ = s.claim(now: t)
        s.recoverAfterRestart(now: t)
        s.recoverAfterRestart(now: t)   // not in flight: no effect
        #expect(s.crashes == 1)
        #expect(s.claim(now: t.addingTimeInterval(1)) == .lookup)
        s.record(.lookupNotFound, now: t, policy: DispatchPolicy(), jitter: 0)
        #expect(s.crashes == 1, "a lookup does not take the step that crashed")
        #expect(s.claim(now: t.addingTimeInterval(2)) == .create)
        s.record(.retryable(error: "503", retryAfter: nil), now: t, policy: DispatchPolicy(), jitter: 0)
        #expect(s.crashes == 0, "a create that came back got past it")
        for _ in 1...2 { _ = s.claim(now: t.addingTimeInterval(5)); s.recoverAfterRestart(now: t.addingTimeInterval(5)) }
        #expect(s.phase != .quarantined)
    }

    @Test func notificationsCountAgainstTheLimitOnlyWhenDelivered() {
        var th = NotificationThrottle(policy: .init(maxPerWindow: 1, window: 3600, bypassAt: .critical, digestAtOrBelow: nil), timeZone: .gmt)
        let t = Date()
        #expect(th.submit(recipient: "ann", item: "1", priority: .high, now: t) == .sendNow)
        // It failed on every channel: the retry must still go out.
        #expect(th.submit(recipient: "ann", item: "1", priority: .high, now: t.addingTimeInterval(30)) == .sendNow)
        th.delivered(recipient: "ann", at: t.addingTimeInterval(30))
        if case .deferred = th.submit(recipient: "ann", item: "2", priority: .high, now: t.addingTimeInterval(60)) {} else {
            Issue.record("a delivered page must count against the limit")
        }
    }
}

@Suite struct FetchPolicyTests {
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    @Test func withoutAListOnlyPublicAddressesAreFetched() {
        let p = FetchPolicy()
        for address in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.5", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                         "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::"] {
            #expect(p.decide(host: "x", port: 80, address: ip(address)) != .allowed, "\(address)")
        }
        #expect(p.decide(host: "nvr.example.com", port: 443, address: ip("93.184.216.34")) == .allowed)
        #expect(p.decide(host: "x", port: 443, address: ip("2606:2800:220:1::1")) == .allowed)
    }

    @Test func aListAllowsWhatItNamesAndNothingElse() throws {
        let entries = try ["nvr.plant.local", "127.0.0.1:8554", "10.20.0.0/16", "[::1]:9000"].map { try FetchPolicy.parse($0).get() }
        let p = FetchPolicy(entries: entries, allowsPublic: false)
        #expect(p.decide(host: "nvr.plant.local", port: 5000, address: ip("192.168.7.7")) == .allowed)
        #expect(p.decide(host: "127.0.0.1", port: 8554, address: ip("127.0.0.1")) == .allowed)
        #expect(p.decide(host: "127.0.0.1", port: 8080, address: ip("127.0.0.1")) != .allowed)
        #expect(p.decide(host: "cam", port: 80, address: ip("10.20.9.9")) == .allowed)
        #expect(p.decide(host: "cam", port: 80, address: ip("10.21.0.1")) != .allowed)
        #expect(p.decide(host: "::1", port: 9000, address: ip("::1")) == .allowed)
        #expect(p.decide(host: "example.com", port: 80, address: ip("93.184.216.34")) != .allowed)
    }

    @Test func entriesAreParsedStrictly() {
        for bad in ["", "10.0.0.0/33", "host:0", "host:99999", "a b", "http://x"] {
            if case .success = FetchPolicy.parse(bad) { Issue.record("'\(bad)' should be refused") }
        }
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1.2.3.256") == nil)
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8:0:0:0:0:0:1")
        #expect(IPAddress("::ffff:10.0.0.1")?.bytes == [10, 0, 0, 1])
    }
}

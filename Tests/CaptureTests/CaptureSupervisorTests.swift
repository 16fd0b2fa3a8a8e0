@testable import Capture
import Foundation
import Testing

/// The supervisor's life cycle, clock given by the test.
@Suite struct CaptureSupervisorTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func at(_ s: Double) -> Date { t0.addingTimeInterval(s) }
    let timing = CaptureSupervisor.Timing(stallAfter: 5, startTimeout: 15, initialBackoff: 1, maxBackoff: 8)

    @Test func framesMakeTheCameraOnlineAndSilenceStallsIt() {
        var s = CaptureSupervisor(timing: timing, now: t0)
        #expect(!s.online && s.offlineSince == t0)
        #expect(s.handle(.frame(at: at(2))) == [])
        #expect(s.online && s.offlineSince == nil)
        #expect(s.handle(.frame(at: at(3))) == [])
        #expect(s.nextDeadline == at(8))
        #expect(s.handle(.tick(at: at(7.9))) == [])
        #expect(s.handle(.tick(at: at(8))) == [.kill(reason: "no frame for 5 s")])
        #expect(s.state == .stalled(since: at(8)) && !s.online && s.offlineSince == at(8))
        // The killed process exits: backing off, then a new start.
        #expect(s.handle(.exited(status: 137, at: at(8.1))) == [])
        #expect(s.state == .backingOff(until: at(9.1)))
        #expect(s.handle(.tick(at: at(9))) == [])
        #expect(s.handle(.tick(at: at(9.1))) == [.spawn])
        #expect(s.starts == 2 && s.offlineSince == at(8))
        #expect(s.lastProblem == "no frame for 5 s")
    }

    /// A start that fails before any decoder runs (an ONVIF lookup refused) backs off like an
    /// exit and keeps its own reason for the status.
    @Test func aFailedStartBacksOffWithItsReason() {
        var s = CaptureSupervisor(timing: timing, now: t0)
        let why = "ONVIF GetProfiles at http://10.0.0.5/onvif/media_service: not authorized; check user and password_env"
        #expect(s.handle(.failed(why: why, at: at(1))) == [])
        #expect(s.state == .backingOff(until: at(2)) && s.lastProblem == why && s.failedStarts == 1)
        #expect(s.handle(.tick(at: at(2))) == [.spawn])
        #expect(s.handle(.failed(why: why, at: at(3))) == [])
        #expect(s.state == .backingOff(until: at(5)))
    }

    /// Starts that give no frame back off longer each time, up to the cap; a frame resets it.
    @Test func fruitlessStartsBackOffExponentially() {
        var s = CaptureSupervisor(timing: timing, now: t0)
        var now = 0.0, delays: [Double] = []
        for _ in 0..<6 {
            now += 0.5
            #expect(s.handle(.exited(status: 1, at: at(now))) == [])
            guard case .backingOff(let until) = s.state else { Issue.record("not backing off: \(s.state)"); return }
            delays.append(until.timeIntervalSince(at(now)))
            now = until.timeIntervalSince(t0)
            #expect(s.handle(.tick(at: at(now))) == [.spawn])
        }
        #expect(delays == [1, 2, 4, 8, 8, 8])
        #expect(s.lastProblem == "decoder exited with status 1")
        _ = s.handle(.frame(at: at(now + 1)))
        _ = s.handle(.exited(status: 1, at: at(now + 2)))
        #expect(s.state == .backingOff(until: at(now + 3)))
    }

    @Test func aStartWithoutAFrameInTimeIsKilled() {
        var s = CaptureSupervisor(timing: timing, now: t0)
        #expect(s.handle(.tick(at: at(14))) == [])
        #expect(s.handle(.tick(at: at(15))) == [.kill(reason: "no frame within 15 s of starting")])
        #expect(s.handle(.exited(status: 137, at: at(15.5))) == [])
        #expect(s.state == .backingOff(until: at(16.5)))
        #expect(s.lastProblem == "no frame within 15 s of starting")
    }

    /// Bytes still arriving from a process being ended do not bring the camera back online.
    @Test func lateFramesFromAnEndingProcessAreIgnored() {
        var s = CaptureSupervisor(timing: timing, now: t0)
        _ = s.handle(.tick(at: at(15)))
        #expect(s.handle(.frame(at: at(15.1))) == [])
        #expect(!s.online)
        _ = s.handle(.exited(status: 137, at: at(15.2)))
        #expect(s.handle(.frame(at: at(15.3))) == [])
        #expect(!s.online)
    }
}

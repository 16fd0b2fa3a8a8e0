@testable import Capture
import Foundation
import Testing

/// The detector worker's life as a value: ready, answers, timeouts, garbage, exits, backoff.
@Suite struct WorkerSupervisorTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let timing = WorkerSupervisor.Timing(startTimeout: 60, answerTimeout: 5)
    func at(_ s: TimeInterval) -> Date { t0.addingTimeInterval(s) }

    @Test func readyThenOneFrameAtATime() {
        var s = WorkerSupervisor(timing: timing, now: t0)
        #expect(s.text == "starting" && !s.isReady && s.send(at: t0) == nil, "no frame before the worker is ready")
        #expect(s.handle(.ready(at: at(2))) == [])
        #expect(s.isReady && s.text == "ready")
        let id = s.send(at: at(3))
        #expect(id == 1 && s.awaiting == 1 && !s.canSend)
        #expect(s.send(at: at(3)) == nil, "one frame in flight")
        #expect(s.handle(.answered(id: 1, at: at(3.5))) == [])
        #expect(s.canSend && s.send(at: at(4)) == 2)
    }

    @Test func aHungWorkerIsKilledAfterTheAnswerTimeoutAndRestartedAfterBackoff() {
        var s = WorkerSupervisor(timing: timing, now: t0)
        _ = s.handle(.ready(at: t0))
        _ = s.send(at: at(1))
        #expect(s.nextDeadline == at(6))
        #expect(s.handle(.tick(at: at(5.9))) == [])
        #expect(s.handle(.tick(at: at(6))) == [.kill(reason: "no answer to frame 1 within 5 s")])
        #expect(s.awaiting == nil && !s.isReady && s.text == "restarting: no answer to frame 1 within 5 s (starts: 1)")
        #expect(s.handle(.answered(id: 1, at: at(6.1))) == [], "a late answer from a worker being killed is ignored")
        #expect(s.handle(.exited(status: 9, at: at(6.2))) == [])
        #expect(s.state == .backingOff(until: at(7.2)))
        #expect(s.text.contains("no answer to frame 1"), "the kill's reason stays the problem, not the exit")
        #expect(s.handle(.tick(at: at(7.2))) == [.spawn])
        #expect(s.starts == 2 && s.state == .starting(since: at(7.2)))
        #expect(s.text == "restarting: no answer to frame 1 within 5 s (starts: 2)")
    }

    @Test(arguments: [
        WorkerSupervisor.Input.garbage(why: "not JSON", at: Date(timeIntervalSince1970: 1_800_000_002)),
        .answered(id: 99, at: Date(timeIntervalSince1970: 1_800_000_002)),
        .ready(at: Date(timeIntervalSince1970: 1_800_000_002)),
    ])
    func garbageAWrongIdOrASecondReadyHasTheWorkerKilled(_ input: WorkerSupervisor.Input) {
        var s = WorkerSupervisor(timing: timing, now: t0)
        _ = s.handle(.ready(at: t0))
        _ = s.send(at: at(1))
        let actions = s.handle(input)
        #expect(actions.count == 1)
        guard case .kill = actions.first else { Issue.record("\(actions)"); return }
        #expect(!s.isReady)
    }

    @Test func aWorkerThatNeverGetsReadyIsKilled() {
        var s = WorkerSupervisor(timing: timing, now: t0)
        #expect(s.nextDeadline == at(60))
        #expect(s.handle(.tick(at: at(60))) == [.kill(reason: "not ready within 60 s of starting")])
    }

    @Test func backoffDoublesForRunsThatAnsweredNothingAndResetsAfterAnAnswer() {
        var s = WorkerSupervisor(timing: timing, now: t0)
        var now = t0
        var delays: [TimeInterval] = []
        for _ in 0..<7 {
            _ = s.handle(.exited(status: 1, at: now))
            guard case .backingOff(let until) = s.state else { Issue.record("\(s.state)"); return }
            delays.append(until.timeIntervalSince(now))
            now = until
            #expect(s.handle(.tick(at: now)) == [.spawn])
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30])
        #expect(s.text == "restarting: worker exited with status 1 (starts: 8)")
        // A run that answers a frame starts the count again.
        _ = s.handle(.ready(at: now))
        _ = s.send(at: now)
        _ = s.handle(.answered(id: 1, at: now))
        _ = s.handle(.exited(status: 0, at: now))
        #expect(s.state == .backingOff(until: now.addingTimeInterval(1)))
        _ = s.handle(.tick(at: now.addingTimeInterval(1)))
        _ = s.handle(.failedToStart(why: "cannot start detect: no such file", at: now.addingTimeInterval(1)))
        #expect(s.text == "restarting: cannot start detect: no such file (starts: 9)")
    }

    @Test func eventsWhileBackingOffChangeNothing() {
        var s = WorkerSupervisor(timing: timing, now: t0)
        _ = s.handle(.exited(status: 1, at: t0))
        let before = s
        #expect(s.handle(.garbage(why: "x", at: at(0.1))) == [])
        #expect(s.handle(.exited(status: 1, at: at(0.2))) == [])
        #expect(s.handle(.tick(at: at(0.5))) == [])
        #expect(s == before)
    }
}

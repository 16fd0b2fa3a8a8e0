import CTimex
import Foundation
import Logging
import Metrics
import MillwrightCore
import ServiceLifecycle

/// Clock integrity (21 CFR Part 11 §11.10(e): time-stamped audit trails). Every record takes
/// its time from this gateway's clock; a step of the wall clock larger than
/// `compliance.max_clock_step` (an NTP correction, an operator setting the time) is itself
/// recorded, so a reader knows the times on either side are not comparable.
struct ClockWatch: Service {
    let gateway: Gateway
    let steps = Counter(label: "millwright_clock_steps_total")

    func run() async throws {
        let maxStep = Double(gateway.settings.compliance.maxClockStep.components.seconds)
            + Double(gateway.settings.compliance.maxClockStep.components.attoseconds) / 1e18
        var detector = ClockStepDetector(maxStep: maxStep)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wall = Date()
            if let step = detector.observe(wall: wall, monotonic: ProcessInfo.processInfo.systemUptime) {
                steps.increment()
                gateway.logger.warning("the wall clock stepped", metadata: ["step_s": "\(step)"])
                do {
                    try await gateway.store.recordAlert(kind: "clock.step", subject: "clock", data: [
                        "step_s": .number(step), "max_step_s": .number(maxStep), "time_sync": JSONValue(TimeSync.status().rawValue),
                    ], now: wall)
                } catch {
                    gateway.logger.error("could not record the clock step in the audit trail", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// Whether the kernel says the clock is disciplined by a time service (adjtimex: STA_UNSYNC
/// clear). A container may not see the host's time service: then `unknown` is honest.
public enum TimeSync: String, Sendable {
    case synchronized, unsynchronized, unknown

    public static func status() -> TimeSync {
        switch millwright_clock_synchronized() {
        case 1: .synchronized
        case 0: .unsynchronized
        default: .unknown
        }
    }
}

import Metrics
import MillwrightCore

/// The gateway's Prometheus series (exposed by the server at `/metrics`).
public struct GatewayMetrics: Sendable {
    public init() {}

    public func detections(_ status: DetectionStatus, count: Int) {
        Counter(label: "millwright_detections_total", dimensions: [("status", status.rawValue)]).increment(by: count)
    }

    public func rejected(count: Int) {
        guard count > 0 else { return }
        Counter(label: "millwright_detections_rejected_total").increment(by: count)
    }

    public func delivery(cmms: String, outcome: String) {
        Counter(label: "millwright_delivery_attempts_total", dimensions: [("cmms", cmms), ("outcome", outcome)]).increment()
    }

    public func workOrderDelivered(cmms: String, latencySeconds: Double) {
        Counter(label: "millwright_work_orders_created_total", dimensions: [("cmms", cmms)]).increment()
        Metrics.Timer(label: "millwright_detection_to_work_order_seconds", dimensions: [("cmms", cmms)])
            .recordNanoseconds(Int64(max(0, latencySeconds) * 1e9))
    }

    public func quarantined() {
        Counter(label: "millwright_payloads_quarantined_total").increment()
    }

    public func deadLettered(cmms: String) {
        Counter(label: "millwright_work_orders_dead_lettered_total", dimensions: [("cmms", cmms)]).increment()
    }

    /// Work orders per delivery phase, across all CMMS.
    public func outbox(phase: String, count: Int) {
        Gauge(label: "millwright_outbox_work_orders", dimensions: [("phase", phase)]).record(count)
    }

    /// Transactions and the submissions they carried: their ratio is the group-commit size.
    public func committing(submissions: Int) {
        Counter(label: "millwright_ingest_commits_total").increment()
        Counter(label: "millwright_ingest_submissions_total").increment(by: submissions)
    }

    public func ingestLatency(seconds: Double) {
        Metrics.Timer(label: "millwright_ingest_commit_seconds").recordNanoseconds(Int64(seconds * 1e9))
    }
}

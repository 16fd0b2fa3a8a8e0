import Connectors
import Foundation
import MillwrightCore
import NIOHTTP1
import Testing
import MillwrightTesting

/// How a create's HTTP answer becomes a delivery outcome, for every connector.
@Suite struct TransportTests {
    func classify(_ status: Int, _ headers: [(String, String)] = []) -> DeliveryState.Outcome? {
        HTTPTransport.classify(HTTPTransport.Response(status: status, headers: HTTPHeaders(headers), body: Data()), describe: { _ in "" })
    }

    /// Proxies and gateways answer 503 after the backend committed: never retried blind.
    @Test func every5xxIsLookedUpBeforeARetry() {
        for status in [500, 502, 503, 504] {
            guard case .unknown(_, let after)? = classify(status, [("Retry-After", "7")]) else {
                Issue.record("HTTP \(status) must be an unknown outcome"); continue
            }
            #expect(after == .seconds(7))
        }
    }

    @Test func aRateLimitOrALockSaysNothingWasDone() {
        if case .retryable? = classify(429) {} else { Issue.record("429 is retryable as it is") }
        if case .retryable? = classify(423) {} else { Issue.record("423 is retryable as it is") }
        if case .permanent? = classify(422) {} else { Issue.record("422 is a dead letter") }
        #expect(classify(201) == nil)
    }
}

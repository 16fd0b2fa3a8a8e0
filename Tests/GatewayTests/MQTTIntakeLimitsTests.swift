@testable import Gateway
import Testing

/// What MQTT intake holds in memory at once: a count and a byte bound on messages being stored.
@Suite struct MQTTIntakeLimitsTests {
    static let limit = MQTTIntake.concurrentIngestBytes

    @Test func aMessageWaitsWhileTheCountOrTheBytesInFlightAreAtTheirBound() {
        #expect(MQTTIntake.mayStart(size: 100, inFlight: MQTTIntake.concurrentIngests - 1, inFlightBytes: 0))
        #expect(!MQTTIntake.mayStart(size: 100, inFlight: MQTTIntake.concurrentIngests, inFlightBytes: 0))
        #expect(MQTTIntake.mayStart(size: 100, inFlight: 3, inFlightBytes: Self.limit - 100))
        #expect(!MQTTIntake.mayStart(size: 101, inFlight: 3, inFlightBytes: Self.limit - 100))
    }

    @Test func aMessageLargerThanTheByteBoundStillGoesAlone() {
        #expect(MQTTIntake.mayStart(size: 2 * Self.limit, inFlight: 0, inFlightBytes: 0))
        #expect(!MQTTIntake.mayStart(size: 2 * Self.limit, inFlight: 1, inFlightBytes: 10))
    }
}

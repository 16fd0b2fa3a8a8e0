@testable import Capture
import Foundation
import Testing

@Suite struct FrameRingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func frame(_ second: Double, bytes: Int) -> FrameRing.Frame { FrameRing.Frame(at: t0.addingTimeInterval(second), jpeg: Data(repeating: 1, count: bytes)) }

    /// The bound is in bytes: big frames evict more of the old ones than small frames do.
    @Test func theOldestFramesGoWhenTheBytesRunOut() {
        var ring = FrameRing(maxBytes: 1000)
        for s in 0..<10 { ring.append(frame(Double(s), bytes: 100)) }
        #expect(ring.frames.count == 10 && ring.bytes == 1000)
        ring.append(frame(10, bytes: 450))
        #expect(ring.bytes <= 1000)
        #expect(ring.frames.count == 6)
        #expect(ring.frames.first?.at == t0.addingTimeInterval(5) && ring.newest == t0.addingTimeInterval(10))
    }

    @Test func aFrameLargerThanTheRingIsRefusedAndNothingEvicted() {
        var ring = FrameRing(maxBytes: 1000)
        ring.append(frame(0, bytes: 10))
        let kept = ring.append(frame(1, bytes: 1001))
        #expect(!kept)
        #expect(ring.frames.count == 1 && ring.bytes == 10)
    }

    @Test func theNearestFrameWithinTheToleranceIsFound() {
        var ring = FrameRing(maxBytes: 10_000)
        for s in [0.0, 1, 2, 3] { ring.append(frame(s, bytes: 10)) }
        #expect(ring.nearest(to: t0.addingTimeInterval(1.4), within: 2)?.at == t0.addingTimeInterval(1))
        #expect(ring.nearest(to: t0.addingTimeInterval(2.6), within: 2)?.at == t0.addingTimeInterval(3))
        // Ties go to the earlier frame.
        #expect(ring.nearest(to: t0.addingTimeInterval(0.5), within: 2)?.at == t0)
        #expect(ring.nearest(to: t0.addingTimeInterval(5.5), within: 2) == nil)
        #expect(ring.nearest(to: t0.addingTimeInterval(-2), within: 2)?.at == t0)
    }
}

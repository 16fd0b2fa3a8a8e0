import Foundation

/// A camera's recent frames, oldest first, bounded in bytes: adding a frame evicts the oldest
/// until the total fits. A frame larger than the whole bound is refused.
public struct FrameRing: Sendable {
    public struct Frame: Sendable, Equatable {
        /// When the gateway received it from the decoder.
        public var at: Date
        public var jpeg: Data
        public init(at: Date, jpeg: Data) { self.at = at; self.jpeg = jpeg }
    }

    public let maxBytes: Int
    public private(set) var frames: [Frame] = []
    public private(set) var bytes = 0

    public init(maxBytes: Int) {
        precondition(maxBytes > 0)
        self.maxBytes = maxBytes
    }

    /// false: the frame alone is over the bound and was not kept.
    @discardableResult
    public mutating func append(_ frame: Frame) -> Bool {
        guard frame.jpeg.count <= maxBytes else { return false }
        var evict = 0, total = bytes + frame.jpeg.count
        while total > maxBytes { total -= frames[evict].jpeg.count; evict += 1 }
        if evict > 0 { frames.removeFirst(evict) }
        frames.append(frame)
        bytes = total
        return true
    }

    /// The frame nearest `time`, if one is within `tolerance` seconds of it (ties: the earlier).
    /// A linear pass: the ring holds hundreds of frames, and arrival order need not be time order
    /// if the wall clock steps.
    public func nearest(to time: Date, within tolerance: TimeInterval) -> Frame? {
        var best: Frame?, bestGap = Double.infinity
        for f in frames {
            let gap = abs(f.at.timeIntervalSince(time))
            if gap < bestGap || (gap == bestGap && f.at < (best?.at ?? .distantFuture)) { best = f; bestGap = gap }
        }
        return bestGap <= tolerance ? best : nil
    }

    public var newest: Date? { frames.last?.at }
}

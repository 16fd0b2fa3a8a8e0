import NIOCore

/// Limits of the client's inbound message queue (messages decoded but not yet taken by the
/// application). Reaching either one stops reading the socket until the queue has drained to
/// half of both, so a slow consumer pushes back on the broker instead of growing memory.
public struct MQTTInboundLimits: Sendable, Hashable {
    public var messages: Int
    /// Payload plus topic bytes.
    public var bytes: Int

    public init(messages: Int = 256, bytes: Int = 16 * 1024 * 1024) {
        self.messages = max(1, messages)
        self.bytes = max(1, bytes)
    }
}

/// The inbound queue as a value: FIFO with byte accounting and the read/pause decision.
///
/// It never refuses an element: messages already decoded when the queue filled up (the rest of
/// one socket read) are kept, so the overshoot is bounded by one read plus one packet.
struct InboundQueue<Element> {
    let limits: MQTTInboundLimits
    private var items = CircularBuffer<(element: Element, bytes: Int)>()
    private(set) var bytes = 0
    /// Reading from the socket is stopped.
    private(set) var paused = false

    init(limits: MQTTInboundLimits) { self.limits = limits }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// Appends; returns `true` when reading must stop now (the queue just reached a limit).
    mutating func push(_ element: Element, bytes size: Int) -> Bool {
        items.append((element, size))
        bytes += size
        guard !paused, items.count >= limits.messages || bytes >= limits.bytes else { return false }
        paused = true
        return true
    }

    /// Removes the oldest element; `resume` is `true` when reading may start again (the queue
    /// drained to half of both limits).
    mutating func pop() -> (element: Element, resume: Bool)? {
        guard let first = items.popFirst() else { return nil }
        bytes -= first.bytes
        var resume = false
        if paused && items.count <= limits.messages / 2 && bytes <= limits.bytes / 2 {
            paused = false
            resume = true
        }
        return (first.element, resume)
    }
}

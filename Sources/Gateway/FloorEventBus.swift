import Foundation
import Metrics

/// Decisions as they happen, for whoever listens (the MQTT bridge), and for the board's
/// journal (`EventJournal`, which keeps its own bounded ring). With no listener nothing else
/// is kept. Each listener gets a bounded buffer that drops
/// its oldest events when it falls behind (the store is the record; the floor hears the news);
/// every drop is counted in `millwright_floor_events_dropped_total`.
public final class FloorEventBus: @unchecked Sendable {
    /// Events held per listener. Each event is bounded by validation (ids ≤ 128 bytes,
    /// measurements ≤ 16 KiB), so a listener holds at most a few MiB.
    public let capacity: Int
    private let lock = NSLock()
    private var listeners: [UUID: AsyncStream<FloorEvent>.Continuation] = [:]
    private let dropped = Counter(label: "millwright_floor_events_dropped_total")

    /// Told every event synchronously, before the listeners.
    private let journal: EventJournal?

    public init(capacity: Int = 1024, journal: EventJournal? = nil) {
        self.capacity = capacity
        self.journal = journal
    }

    public var hasListeners: Bool { lock.withLock { !listeners.isEmpty } }

    /// A stream of the events from now on; it ends its subscription when the consumer stops.
    public func subscribe() -> AsyncStream<FloorEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: FloorEvent.self, bufferingPolicy: .bufferingNewest(capacity))
        let id = UUID()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.listeners.removeValue(forKey: id) }
        }
        lock.withLock { listeners[id] = continuation }
        return stream
    }

    public func publish(_ event: @autoclosure () -> FloorEvent) {
        let current = lock.withLock { Array(listeners.values) }
        guard !current.isEmpty || journal != nil else { return }
        let e = event()
        journal?.record(e)
        for c in current {
            if case .dropped = c.yield(e) { dropped.increment() }
        }
    }
}

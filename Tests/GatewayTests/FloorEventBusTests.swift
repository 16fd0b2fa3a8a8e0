import Foundation
import Gateway
import Testing

/// Floor events are kept only for a listener, and only so many.
@Suite struct FloorEventBusTests {
    static func event(_ i: Int) -> FloorEvent { .incident(id: "i\(i)", camera: "CAM", state: "open", detail: "") }

    @Test func withoutAListenerNothingIsBuiltOrKept() {
        let bus = FloorEventBus(capacity: 4)
        var built = 0
        for i in 0..<1000 { bus.publish({ built += 1; return Self.event(i) }()) }
        #expect(built == 0)
        #expect(!bus.hasListeners)
    }

    @Test func aSlowListenerKeepsTheNewestAndTheBusForgetsItWhenItStops() async {
        let bus = FloorEventBus(capacity: 4)
        var stream: AsyncStream<FloorEvent>? = bus.subscribe()
        for i in 0..<10 { bus.publish(Self.event(i)) }
        var got: [String] = []
        var it = stream!.makeAsyncIterator()
        for _ in 0..<4 { if case .incident(let id, _, _, _)? = await it.next() { got.append(id) } }
        #expect(got == ["i6", "i7", "i8", "i9"])
        stream = nil
        it = AsyncStream<FloorEvent> { $0.finish() }.makeAsyncIterator()
        _ = await it.next()
        #expect(!bus.hasListeners)
    }
}

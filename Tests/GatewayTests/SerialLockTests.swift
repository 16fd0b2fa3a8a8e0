import Foundation
@testable import Gateway
import Testing

@Suite struct SerialLockTests {
    /// Sections that suspend inside never overlap, so the Sparkplug node's messages leave in
    /// the order it numbered them.
    @Test func sectionsNeverOverlap() async {
        let serial = SerialLock()
        let inside = LockedValue(0), most = LockedValue(0), done = LockedValue(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    await serial.run {
                        let now = inside.update { $0 += 1; return $0 }
                        most.update { $0 = max($0, now) }
                        await Task.yield()
                        inside.update { $0 -= 1 }
                        done.update { $0 += 1 }
                    }
                }
            }
        }
        #expect(done.get() == 50)
        #expect(most.get() == 1)
    }
}

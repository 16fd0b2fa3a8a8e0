import Foundation
@testable import Gateway
import Testing

/// Renders run on threads of their own at a lower priority, never on the caller's.
struct BackgroundCPUTests {
    static func niceness() -> Int32 { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }

    @Test func workRunsAtNicePlusFiveAndLeavesTheCallerAsItWas() async throws {
        let callerBefore = Self.niceness()
        let nice = try await BackgroundCPU.run { Self.niceness() }
        #expect(nice == BackgroundCPU.niceness)
        #expect(Self.niceness() == callerBefore)
        // Concurrent work is spread over at most cores − 1 threads, each lowered.
        let all = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<16 { group.addTask { try await BackgroundCPU.run { Self.niceness() } } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(all.count == 16 && all.allSatisfy { $0 == BackgroundCPU.niceness })
        #expect(BackgroundCPU.threads.numberOfThreads == max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
    }
}

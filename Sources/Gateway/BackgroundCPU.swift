import Foundation
import NIOPosix

/// CPU-heavy work (decoding, annotating and encoding a frame: 20 ms for 1080p here) kept off
/// Swift's cooperative pool. That pool has one thread per core, and it runs ingest, commits
/// and HTTP: on two cores one render held half of it. These threads are one fewer than the
/// cores, so work queued here never takes them all, and each runs at nice +5, so under
/// contention the kernel gives the ingest path the cores first.
public enum BackgroundCPU {
    public static let niceness: Int32 = 5

    static let threads: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
        pool.start()
        return pool
    }()

    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive {
            lowerThisThread()
            return try work()
        }
    }

    /// Linux keeps a nice value per thread, and `who` 0 is the calling thread (setpriority(2),
    /// NOTES), so this lowers only the pool's own thread.
    private static func lowerThisThread() {
        let thisThread = __priority_which_t(PRIO_PROCESS.rawValue)
        if getpriority(thisThread, 0) < niceness { _ = setpriority(thisThread, 0, niceness) }
    }
}

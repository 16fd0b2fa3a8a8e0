import Crypto
import Foundation

/// Remembers which submissions were being processed when the process died, so one that
/// kills the gateway every time (a redelivered MQTT message, a client that retries) is
/// refused after `maxCrashes` instead of crash-looping it.
///
/// One small file per submission in progress, named by the payload's SHA-256 and holding how
/// many processes started on it. It is written without fsync on purpose: a crash of the
/// process leaves the kernel's page cache intact, and a power cut is not a poison payload.
public final class PoisonGuard: Sendable {
    public static let maxCrashes = 3
    let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public enum Verdict: Sendable, Equatable {
        /// Go ahead; call `finished` when done, however it ended short of a crash.
        case proceed(key: String)
        /// Processes died on this payload `crashes` times: refuse it.
        case quarantine(key: String, crashes: Int)
    }

    public static func key(_ payload: Data, context: String) -> String {
        var h = SHA256()
        h.update(data: Data(context.utf8))
        h.update(data: [0])
        h.update(data: payload)
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public func begin(_ key: String) -> Verdict {
        let url = directory.appendingPathComponent(key)
        let before = (try? String(contentsOf: url, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if before >= Self.maxCrashes { return .quarantine(key: key, crashes: before) }
        // A guard that cannot write must not stop ingest: the worst case is the old behaviour.
        try? Data(String(before + 1).utf8).write(to: url)
        return .proceed(key: key)
    }

    public func finished(_ key: String) {
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(key))
    }
}

import Crypto
import Foundation
import MillwrightCore

/// Remembers which submissions were being processed when the process died, so one that
/// kills the gateway every time (a redelivered MQTT message, a client that retries) is
/// refused after `maxCrashes` instead of crash-looping it.
///
/// Two files in `directory`. `journal`: a line `+KEY` when a submission starts and `-KEY` when
/// it ends, appended with write(2) and never fsynced, on purpose: a crash of the process leaves
/// the kernel's page cache intact, and a power cut is not a poison payload. At start, a key
/// started more often than it ended was in progress when the process died; it gains one crash
/// in `crashes` (`KEY COUNT` lines), which only start-up and the rare key that had crashed before
/// rewrite. Two appends per submission, or per batch of MQTT messages taken together, instead
/// of a file created and deleted for each one, which cost an MQTT message more than its share
/// of a group commit.
public final class PoisonGuard: @unchecked Sendable {
    public static let maxCrashes = 3
    /// The journal is rewritten with only what is in progress once it grows past this.
    static let journalLimitBytes = 1 << 20
    /// Payloads remembered for their crashes; beyond this the fewest-crashes ones are forgotten.
    static let rememberedPayloads = 1_000

    let directory: URL
    private let lock = NSLock()
    private var crashes: [String: Int]
    /// Submissions in progress now, per key (the same bytes may be in progress twice).
    private var inProgress: [String: Int] = [:]
    private var journal: Int32 = -1
    private var journalBytes = 0

    var journalPath: String { directory.appendingPathComponent("journal").path }
    var crashesPath: String { directory.appendingPathComponent("crashes").path }

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        crashes = Self.readCrashes(directory.appendingPathComponent("crashes").path)
        if let text = try? String(contentsOfFile: journalPath, encoding: .utf8) {
            var balance: [Substring: Int] = [:]
            for line in text.split(separator: "\n") where line.count > 1 {
                balance[line.dropFirst(), default: 0] += line.first == "+" ? 1 : -1
            }
            for (key, started) in balance where started > 0 { crashes[String(key), default: 0] += 1 }
        }
        // The counts first, then a fresh journal: dying in between counts those crashes again
        // at the next start, never loses one.
        try saveCrashes()
        journal = open(journalPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard journal >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: journalPath]) }
    }

    deinit { if journal >= 0 { close(journal) } }

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
        return Hex.encode(h.finalize())
    }

    /// The payload was in progress when the process died before: ingest runs it with nothing
    /// else in progress (`SuspectGate`), so a crash then counts against it alone.
    public func isSuspect(_ key: String) -> Bool { lock.withLock { crashes[key] != nil } }

    public func begin(_ key: String) -> Verdict { begin([key])[0] }

    /// Several submissions starting together (an MQTT batch): one append for all of them.
    public func begin(_ keys: [String]) -> [Verdict] {
        lock.withLock {
            var lines = ""
            let verdicts = keys.map { key -> Verdict in
                if let before = crashes[key], before >= Self.maxCrashes { return .quarantine(key: key, crashes: before) }
                inProgress[key, default: 0] += 1
                lines += "+" + key + "\n"
                return .proceed(key: key)
            }
            append(lines)
            return verdicts
        }
    }

    public func finished(_ key: String) { finished([key]) }

    /// Several submissions ended, however short of a crash: one append for all of them.
    public func finished(_ keys: [String]) {
        guard !keys.isEmpty else { return }
        lock.withLock {
            var lines = ""
            var cleared = false
            for key in keys {
                if let n = inProgress[key], n > 1 { inProgress[key] = n - 1 } else { inProgress[key] = nil }
                lines += "-" + key + "\n"
                // Processed to the end: its earlier crashes were not its fault.
                if crashes.removeValue(forKey: key) != nil { cleared = true }
            }
            append(lines)
            if cleared { try? saveCrashes() }
            if journalBytes > Self.journalLimitBytes { rewriteJournal() }
        }
    }

    /// A guard that cannot write must not stop ingest: the worst case is the old behaviour.
    /// `lines`, each ending in a newline, in one write(2).
    private func append(_ lines: String) {
        guard !lines.isEmpty else { return }
        var text = lines
        journalBytes += text.withUTF8 { max(0, write(journal, $0.baseAddress, $0.count)) }
    }

    /// A new journal holding only what is in progress, renamed over the old one.
    private func rewriteJournal() {
        let fresh = journalPath + ".new"
        let fd = open(fresh, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let text = inProgress.flatMap { key, n in Array(repeating: "+\(key)\n", count: n) }.joined()
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, rename(fresh, journalPath) == 0 else {
            close(fd)
            unlink(fresh)
            return
        }
        close(journal)
        journal = fd
        journalBytes = bytes.count
    }

    private func saveCrashes() throws {
        if crashes.count > Self.rememberedPayloads {
            for (key, _) in crashes.sorted(by: { $0.value < $1.value }).prefix(crashes.count - Self.rememberedPayloads) { crashes[key] = nil }
        }
        let text = crashes.map { "\($0.key) \($0.value)\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: crashesPath), options: .atomic)
    }

    static func readCrashes(_ path: String) -> [String: Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let n = Int(parts[1]), n > 0 { counts[String(parts[0])] = n }
        }
        return counts
    }
}

import Foundation
import MillwrightCore

/// The checkpoint file: one signed JSON line per checkpoint, only ever appended, each line
/// fsynced before `append` returns. Ship it off the database host (or keep it on
/// append-only storage): a checkpoint is only as safe as the file it is in.
public struct AuditCheckpointFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public enum FileError: Error, Sendable, CustomStringConvertible {
        case io(String, String)
        public var description: String {
            switch self { case .io(let path, let why): "audit checkpoints \(path): \(why)" }
        }
    }

    public func append(_ cp: AuditCheckpoint) throws {
        let created = !FileManager.default.fileExists(atPath: path)
        if created {
            do {
                try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch { throw FileError.io(path, "cannot create its folder: \(error.localizedDescription)") }
        }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.io(path, "cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // A line torn by a crash mid-write stays on its own line rather than swallowing this one.
        var line = cp.jsonLine + "\n"
        if !created, !endsWithNewline(fd) { line = "\n" + line }
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw FileError.io(path, "short write: \(String(cString: strerror(errno)))") }
        guard fsync(fd) == 0 else { throw FileError.io(path, "fsync failed: \(String(cString: strerror(errno)))") }
        if created { syncFolder() }
    }

    /// The file's text, or nil when there is no file yet.
    public func read() throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FileError.io(path, "cannot read: \(error.localizedDescription)")
        }
    }

    private func endsWithNewline(_ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return true }
        var last: UInt8 = 0
        return pread(fd, &last, 1, st.st_size - 1) == 1 && last == UInt8(ascii: "\n")
    }

    /// A new file's directory entry is durable only once the folder is synced too.
    private func syncFolder() {
        let dir = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        guard dir >= 0 else { return }
        _ = fsync(dir)
        close(dir)
    }
}

import Foundation
import Logging

/// A child process's stderr in the gateway's log, line by line on a thread of its own: each
/// line cut at `maxLineBytes`, at most `maxLinesPerRun` lines per process (a decoder can repeat
/// a warning per packet, a worker a traceback per frame), then the count of lines left out.
enum StderrLog {
    static let maxLineBytes = 400
    static let maxLinesPerRun = 50

    static func follow(_ handle: FileHandle, program: String, camera: String, logger: Logger, redact: @escaping @Sendable (String) -> String = { $0 }) {
        let thread = Thread {
            var line: [UInt8] = [], logged = 0, suppressed = 0
            func emit() {
                defer { line.removeAll(keepingCapacity: true) }
                guard !line.isEmpty else { return }
                if logged < maxLinesPerRun {
                    logged += 1
                    logger.warning("\(program)", metadata: ["camera": "\(camera)", "stderr": "\(redact(String(decoding: line, as: UTF8.self)))"])
                } else {
                    suppressed += 1
                }
            }
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                for b in chunk {
                    if b == 10 || b == 13 { emit() } else if line.count < maxLineBytes { line.append(b) }
                }
            }
            emit()
            if suppressed > 0 { logger.warning("\(program) stderr lines not logged", metadata: ["camera": "\(camera)", "count": "\(suppressed)"]) }
            try? handle.close()
        }
        thread.stackSize = 128 << 10
        thread.start()
    }
}

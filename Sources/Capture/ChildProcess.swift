import Foundation

/// Ending a child started through Foundation's `Process`: a detector worker or ffmpeg.
enum ChildProcess {
    /// How long a stopped child has to end on SIGTERM before it is killed.
    static let stopGrace: Double = 2

    /// SIGTERM, then SIGKILL after `stopGrace` if it still runs. SIGTERM alone may never
    /// arrive: a child that Foundation starts from one of our threads inherits that thread's
    /// mask, which blocks SIGTERM, and a gateway under a service group ignores SIGTERM, which a
    /// child inherits too. `isRunning` before the kill: until Foundation reaps the child, its
    /// pid cannot be someone else's.
    static func stop(_ process: Process, group: Bool) {
        signal(process, SIGTERM, group: group)
        DispatchQueue.global().asyncAfter(deadline: .now() + stopGrace) {
            if process.isRunning { signal(process, SIGKILL, group: group) }
        }
    }

    /// Sends `signal` to the child, or with `group` to the process group it leads (Foundation
    /// starts each child as the leader of a group of its own), so that it also reaches what the
    /// child started.
    static func signal(_ process: Process, _ signal: Int32, group: Bool) {
        let pid = process.processIdentifier
        guard pid > 0 else { return }
        if group && getpgid(pid) == pid { kill(-pid, signal) } else { kill(pid, signal) }
    }
}

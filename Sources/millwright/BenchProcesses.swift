import Foundation

/// A child process of `millwright bench` (a `millwright serve` node, the sandbox emulator).
/// Its stdout and stderr are kept as a bounded tail, for the error message when it fails; its
/// "listening on http://…" line is turned into the base URL it serves on.
final class BenchChild: @unchecked Sendable {
    /// Output kept for error messages: a chatty node must not grow the bench's memory.
    static let tailLimit = 32 << 10

    let name: String
    private let process = Process()
    private let lock = NSLock()
    private var tail = Data()
    private var url: String?
    private var exitStatus: Int32?
    private var urlWaiters: [CheckedContinuation<String, any Error>] = []
    private var exitWaiters: [CheckedContinuation<Int32, Never>] = []

    /// Starts `executable args`, with `environment` added to ours and `directory` as its
    /// working directory. Registers itself with `cleanup`, so it is killed however the bench ends.
    init(name: String, executable: String, _ args: [String], environment: [String: String] = [:], directory: String? = nil,
         cleanup: BenchCleanup) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        // Only this child may hold the write end: a copy inherited by the next child would keep
        // this pipe open after this one exits.
        for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            self?.received(data)
        }
        process.terminationHandler = { [weak self] p in self?.exited(p.terminationStatus) }
        try process.run()
        let pid = process.processIdentifier
        // Held strongly: the step must still kill the child if the bench drops it early.
        cleanup.add("\(name) (pid \(pid))") { [self] in self.kill(SIGKILL) }
    }

    var pid: pid_t { process.processIdentifier }

    /// The last `tailLimit` bytes it printed.
    var output: String { lock.withLock { String(decoding: tail, as: UTF8.self) } }

    private func received(_ data: Data) {
        var resume: [CheckedContinuation<String, any Error>] = []
        var found: String?
        lock.withLock {
            tail.append(data)
            if tail.count > Self.tailLimit { tail.removeFirst(tail.count - Self.tailLimit) }
            guard url == nil else { return }
            // Only a whole line counts: the URL may arrive split over two reads.
            let text = String(decoding: tail, as: UTF8.self)
            guard let marker = text.range(of: "listening on http"),
                  let end = text[marker.upperBound...].firstIndex(of: "\n") else { return }
            let start = text.index(marker.upperBound, offsetBy: -4)
            found = String(text[start..<end]).trimmingCharacters(in: .whitespaces)
            url = found
            resume = urlWaiters
            urlWaiters = []
        }
        if let found { for c in resume { c.resume(returning: found) } }
    }

    private func exited(_ status: Int32) {
        let (urls, exits, text) = lock.withLock { () -> ([CheckedContinuation<String, any Error>], [CheckedContinuation<Int32, Never>], String) in
            exitStatus = status
            defer { urlWaiters = []; exitWaiters = [] }
            return (urlWaiters, exitWaiters, String(decoding: tail, as: UTF8.self))
        }
        for c in urls { c.resume(throwing: BenchFailure("\(name) exited with status \(status) before it listened; its output:\n\(text)")) }
        for c in exits { c.resume(returning: status) }
    }

    /// The base URL from its "listening on" line; throws if it exits first or takes longer than
    /// `timeout` seconds (the timeout only bounds the wait: the line itself resumes it).
    func listening(timeout: Double = 120) async throws -> String {
        let waiting = Task {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<String, any Error>) in
                let immediate: Result<String, any Error>? = lock.withLock {
                    if let url { return .success(url) }
                    if let exitStatus { return .failure(BenchFailure("\(name) exited with status \(exitStatus) before it listened; its output:\n\(String(decoding: tail, as: UTF8.self))")) }
                    urlWaiters.append(c)
                    return nil
                }
                if let immediate { c.resume(with: immediate) }
            }
        }
        let timer = Task {
            try await Task.sleep(for: .seconds(timeout))
            self.failWaiters(BenchFailure("\(self.name) printed no 'listening on' line within \(Int(timeout)) s; its output:\n\(self.output)"))
        }
        defer { timer.cancel() }
        return try await waiting.value
    }

    private func failWaiters(_ error: any Error) {
        let waiters = lock.withLock { defer { urlWaiters = [] }; return urlWaiters }
        for c in waiters { c.resume(throwing: error) }
    }

    /// Waits for it to exit; returns its status.
    func exit() async -> Int32 {
        await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
            let status: Int32? = lock.withLock {
                if let exitStatus { return exitStatus }
                exitWaiters.append(c)
                return nil
            }
            if let status { c.resume(returning: status) }
        }
    }

    var isRunning: Bool { lock.withLock { exitStatus == nil } }

    func kill(_ signal: Int32) { if isRunning { Foundation.kill(process.processIdentifier, signal) } }

    /// SIGTERM (a serve node drains and exits 0), then SIGKILL if it is still there after `grace`.
    func stop(grace: Duration = .seconds(20)) async {
        guard isRunning else { return }
        kill(SIGTERM)
        let killer = Task {
            try await Task.sleep(for: grace)
            self.kill(SIGKILL)
        }
        _ = await exit()
        killer.cancel()
    }
}

/// What must be undone however the bench ends: children to kill, the temporary PostgreSQL to
/// stop, the temp directory to delete. On an error the bench calls `runAll()` on its way out; on
/// SIGINT or SIGTERM the handler does, then exits (128 + signal). Each step runs once.
final class BenchCleanup: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [(what: String, run: () -> Void)] = []
    private var signalSources: [any DispatchSourceSignal] = []
    /// Held while steps run: a second caller (the error path while the signal handler is
    /// cleaning up) waits for the first to finish instead of exiting under it.
    private let running = NSLock()

    /// Objects kept until the process exits.
    private var kept: [AnyObject] = []

    func add(_ what: String, _ step: @escaping () -> Void) { lock.withLock { steps.append((what, step)) } }

    /// Keeps `object` alive until the process exits. For the bench's own PostgreSQL connection:
    /// when a signal stops the server under a running query, the unwinding code must not
    /// release the connection unclosed (PostgresNIO asserts on that in debug builds) before the
    /// cleanup has finished.
    func keep(_ object: AnyObject) { lock.withLock { kept.append(object) } }

    /// Runs the steps, newest first (children before the database they use, the directory last).
    func runAll() {
        running.withLock {
            let pending = lock.withLock { defer { steps = [] }; return steps }
            for step in pending.reversed() { step.run() }
        }
    }

    /// Cleans up and exits on SIGINT or SIGTERM instead of leaving children and a database behind.
    func handleSignals() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                FileHandle.standardError.write(Data("millwright bench: signal \(sig), stopping the nodes and the database\n".utf8))
                runAll()
                Foundation.exit(128 + sig)
            }
            source.resume()
            lock.withLock { signalSources.append(source) }
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// CPU time from /proc/PID/stat, for saying which process the machine's cores went to.
enum ProcessCPU {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields after "pid (comm)": comm may hold spaces and parentheses, so split after the last ')'.
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// User + system seconds of `pid`; with `reapedChildren`, also of the children it has
    /// waited for (PostgreSQL's postmaster reaps every backend that ends).
    static func seconds(_ pid: pid_t, reapedChildren: Bool = false) -> Double {
        // After "pid (comm)": state ppid … utime(11) stime(12) cutime(13) cstime(14), from 0.
        guard let f = statFields(pid), f.count > 14 else { return 0 }
        let own = (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
        let reaped = reapedChildren ? (Double(f[13]) ?? 0) + (Double(f[14]) ?? 0) : 0
        return (own + reaped) / ticksPerSecond
    }

    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { statFields($0).flatMap { $0.count > 1 ? pid_t($0[1]) : nil } == parent }
    }

    /// A process and all it has run since it started: itself, its reaped children, and the
    /// children alive now. The difference of two readings is the CPU spent in between, as long
    /// as no child that is alive now was reaped in between by someone else.
    static func treeSeconds(_ root: pid_t) -> Double {
        seconds(root, reapedChildren: true) + children(of: root).reduce(0) { $0 + seconds($1) }
    }

    /// Peak resident memory of `pid` in MB (VmHWM), 0 if unknown.
    static func peakRSSMegabytes(_ pid: pid_t) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return (kb / 1024).rounded()
    }
}

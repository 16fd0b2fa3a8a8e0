import Foundation
import LocalServers
import NIOCore
import NIOPosix

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Locates an executable: /usr/sbin, /usr/bin, /usr/local/(s)bin, then PATH.
public func findExecutable(_ name: String) -> String? {
    var dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
    dirs += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for d in dirs {
        let path = d + "/" + name
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Whether the first `python3` on PATH imports every one of `modules` (the test peers that
/// scripts/install-deps.sh installs from PyPI).
public func python3Imports(_ modules: [String]) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import " + modules.joined(separator: ", ")]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}

/// A free loopback TCP port (bound to port 0 and released), for the tests' own servers.
public func freeLoopbackPort() throws -> Int { try LocalServers.freeLoopbackPort() }

/// Runs `body` with a timeout (the sleep bounds the wait; it never synchronises anything).
/// Does not wait for a body that ignores cancellation.
public func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let box = FirstResult<T>()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        box.set(c)
        let work = Task {
            do { box.complete(.success(try await body())) } catch { box.complete(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            box.complete(.failure(TestFailure("timed out after \(seconds)s waiting for \(what)")))
            work.cancel()
        }
    }
}

public final class FirstResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    public func set(_ c: CheckedContinuation<T, Error>) {
        lock.lock()
        continuation = c
        lock.unlock()
    }
    public func complete(_ r: Result<T, Error>) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: r)
    }
}

public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(value: T) { self.value = value }
}

/// A child process spawned with posix_spawn, with a clean signal mask and default signal
/// dispositions (a test runner's threads may block SIGTERM, which children would inherit),
/// reaped by `waitpid` on a dispatch thread.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    /// Completes with the exit status (or 128 + signal).
    public let exit: Task<Int32, Never>

    public init(_ path: String, _ args: [String], stdout: String? = nil, stderr: String? = nil) throws {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else is inherited. NIO opens its sockets without close-on-exec, and the tests
        // run in parallel in one process: a PostgreSQL server started while another test holds
        // connections open would keep a copy of them for its lifetime, so the test's close never
        // reached the peer (seen as the max-connections listener test waiting 30 s for slots).
        try Self.closeInheritedDescriptors(&fileActions)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attr, &allSignals)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &fileActions, &attr, argv, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(path) failed: \(rc)") }
        self.pid = pid
        let child = pid
        exit = Task {
            await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
                // A thread of its own: a broker lives for a whole suite, and parking a Dispatch
                // worker in waitpid for that long starves the queues Foundation's Process uses
                // to notice its own children exit (seen as a hung suite on two cores).
                let waiter = Thread {
                    var status: Int32 = 0
                    while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                    let signal = status & 0x7F
                    c.resume(returning: signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
                }
                waiter.stackSize = 64 << 10
                waiter.start()
            }
        }
    }

    public func terminate() { kill(pid, SIGTERM) }

    /// The exit status, or after `seconds` a failure that says what the child was doing (its
    /// state and kernel wait channel from /proc, and the tail of `stderr` if it went to a file),
    /// with the child killed so it cannot outlive the test.
    public func exitStatus(within seconds: Double, _ what: String, stderr: String? = nil) async throws -> Int32 {
        do {
            return try await withTimeout(seconds, what) { await self.exit.value }
        } catch {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "gone"
            let state = stat.split(separator: ")").last.map { $0.split(separator: " ").first.map(String.init) ?? "?" } ?? "?"
            let channel = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
            let errors = stderr.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map { String($0.suffix(2000)) } ?? ""
            kill(pid, SIGKILL)
            throw TestFailure("\(error) (pid \(pid), state \(state), waiting in \(channel)) \(errors)")
        }
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+; hidden from Swift behind
    /// _GNU_SOURCE, hence dlsym), else a close action for each descriptor open now.
    private static func closeInheritedDescriptors(_ fileActions: inout posix_spawn_file_actions_t) throws {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            let rc = closeFrom(&fileActions, 3)
            guard rc == 0 else { throw TestFailure("posix_spawn_file_actions_addclosefrom_np failed: \(rc)") }
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        // A descriptor closed before the spawn is ignored by glibc's close action; one opened
        // after the listing may still leak, which this fallback cannot help.
        for fd in open.compactMap(Int32.init) where fd > 2 {
            posix_spawn_file_actions_addclose(&fileActions, fd)
        }
    }
}

/// Runs the built `millwright` binary as a separate process, the way an operator would.
public final class Spawned: @unchecked Sendable {
    public let process = Process()
    private let lock = NSLock()
    private var output = ""
    private var drained = false
    public let name: String

    public static var binary: String {
        if let env = ProcessInfo.processInfo.environment["MILLWRIGHT_BIN"] { return env }
        // The test bundle and the executable are built into the same folder.
        let testDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [testDir.appendingPathComponent("millwright").path,
                          PackagePaths.root.appendingPathComponent(".build/debug/millwright").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Another program (mosquitto_sub, …) with the same output capture.
    public static func external(_ path: String, _ args: [String]) throws -> Spawned {
        try Spawned(args, name: path, executable: path)
    }

    public init(_ args: [String], name: String, environment: [String: String] = [:], cwd: String? = nil, executable: String? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable ?? Self.binary)
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["MILLWRIGHT_LOG_LEVEL"] = env["MILLWRIGHT_LOG_LEVEL"] ?? "warning"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let pipe = Pipe()
        // Only this child may hold the write end (dup2 onto its stdout clears the flag): a copy
        // inherited by a process another test starts would keep the pipe from ending.
        for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        process.standardOutput = pipe
        process.standardError = pipe
        // A thread of its own reads the pipe to its end, with blocking reads: libdispatch's
        // read sources, which `readabilityHandler` uses, crashed the test process when many were
        // set up and torn down at once (swift-corelibs-libdispatch#949, seen in a CI run).
        let reader = pipe.fileHandleForReading
        let thread = Thread { [weak self] in
            while true {
                let data = reader.availableData
                // Empty data is end of file: the process and any children have closed the pipe.
                if data.isEmpty { self?.lock.withLock { self?.drained = true }; return }
                self?.lock.withLock { self?.output += String(decoding: data, as: UTF8.self) }
            }
        }
        thread.name = "output of \(name)"
        try process.run()
        thread.start()
    }

    public var text: String { lock.withLock { output } }

    /// Waits for the "listening on http(s)://host:port" line and returns the base URL.
    public func listening(timeout: Double = 90) async throws -> String {
        let line = try await waitFor("listening on http", timeout: timeout)
        guard let r = line.range(of: "http") else { throw HarnessError.noAddress(text) }
        return String(line[r.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func waitFor(_ needle: String, timeout: Double) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // Whole lines only: a read can end mid-line ("listening on port" before its number).
            let output = text
            let complete = output.lastIndex(of: "\n").map { output[..<$0] } ?? ""
            if let line = complete.split(separator: "\n").first(where: { $0.contains(needle) }) { return String(line) }
            if !process.isRunning { throw HarnessError.exited(name, process.terminationStatus, text) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError.timeout("\(name) never printed '\(needle)'", text)
    }

    public func kill9() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        awaitExit(within: 10)
    }

    /// SIGTERM, and SIGKILL if the process is still there after `grace` seconds: a child that
    /// does not stop must not hang the test that stops it.
    @discardableResult
    public func terminate(grace: Double = 30) -> Int32 {
        if process.isRunning { process.terminate() }
        if !awaitExit(within: grace) {
            Foundation.kill(process.processIdentifier, SIGKILL)
            awaitExit(within: 10)
        }
        return process.isRunning ? -1 : process.terminationStatus
    }

    /// Polls rather than `waitUntilExit`, which spins a run loop on Linux (a whole core for as
    /// long as it waits) and has no deadline.
    @discardableResult
    private func awaitExit(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        return !process.isRunning
    }

    deinit { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }

    /// Runs a short command to completion.
    public static func run(_ args: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let p = try Spawned(args, name: args.joined(separator: " "), environment: environment)
        while p.process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        // The output is complete at the pipe's end of file. The deadline only covers a write end
        // inherited in the moment before the flag above was set: it never hangs a test.
        let deadline = Date().addingTimeInterval(5)
        while !p.lock.withLock({ p.drained }), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return (p.process.terminationStatus, p.text)
    }
}

public enum HarnessError: Error, CustomStringConvertible {
    case noAddress(String), exited(String, Int32, String), timeout(String, String), http(Int, String)
    public var description: String {
        switch self {
        case .noAddress(let o): "no address in output:\n\(o)"
        case .exited(let n, let s, let o): "\(n) exited with \(s):\n\(o)"
        case .timeout(let m, let o): "\(m):\n\(o)"
        case .http(let s, let b): "HTTP \(s): \(b)"
        }
    }
}

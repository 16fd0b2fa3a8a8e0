import Foundation
import LocalServers
import MillwrightCore

/// A throw-away PostgreSQL server from Debian's `postgresql` package, on a free loopback port,
/// with its data directory in a temp folder. Tests share one server and keep apart by schema
/// (`settings()` names a fresh one each call); a test that stops, restarts or kills the server
/// starts its own.
///
/// PostgreSQL refuses to run as root, so under root (as in CI) initdb and the server run as the
/// package's `postgres` user (or `nobody`), which owns the directory.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    public let database = "millwright_test"
    public let user = "millwright"
    /// The binaries' folder, e.g. /usr/lib/postgresql/15/bin.
    public let binDirectory: String
    private let lock = NSLock()
    private var extraOptions: [String]
    private var running = false

    public var dataDirectory: String { directory.appendingPathComponent("data").path }
    public var socketDirectory: String { directory.appendingPathComponent("socket").path }
    public var logFile: String { directory.appendingPathComponent("server.log").path }

    /// `postgres://millwright@127.0.0.1:PORT/millwright_test?sslmode=disable` (trust authentication: no password).
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    private init(port: Int, directory: URL, binDirectory: String, options: [String]) {
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
        self.extraOptions = options
    }

    /// initdb, start, create the test database. `options` are extra `-c name=value` server settings.
    public static func start(options: [String: String] = [:]) async throws -> PostgresServer {
        // The free port is found by binding port 0 and letting it go; a process of another test
        // may take it before the server binds it. Then the server does not start: try another.
        var lastError: (any Error)?
        for _ in 0..<3 {
            do { return try await startOnce(options: options) } catch { lastError = error }
        }
        throw lastError ?? TestFailure("PostgreSQL did not start")
    }

    private static func startOnce(options: [String: String]) async throws -> PostgresServer {
        guard let bin = PostgresInstallation.binDirectory() else {
            throw TestFailure("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); install the 'postgresql' package (scripts/install-deps.sh)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pg-test-\(UUID().uuidString.prefix(8))")
        let server = PostgresServer(port: try freeLoopbackPort(), directory: dir, binDirectory: bin,
                                    options: options.sorted { $0.key < $1.key }.flatMap { ["-c", "\($0.key)=\($0.value)"] })
        do {
            try FileManager.default.createDirectory(atPath: server.socketDirectory, withIntermediateDirectories: true)
            try server.handToServerUser(dir.path)
            try await server.tool("initdb", ["-D", server.dataDirectory, "-A", "trust", "-U", server.user, "-E", "UTF8", "--no-locale", "--no-sync"])
            try await server.launch()
            try await server.tool("createdb", ["-h", server.socketDirectory, "-p", String(server.port), "-U", server.user, server.database])
        } catch {
            await server.cleanUp()
            throw error
        }
        return server
    }

    /// Settings for a schema no other test uses (the backend creates it on connect).
    public func settings(schema: String? = nil, pool: Int = 4) -> PostgresSettings {
        PostgresSettings(host: "127.0.0.1", port: port, user: user, password: nil, database: database,
                         schema: schema ?? "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""),
                         pool: pool, tls: .disable)
    }

    /// Starts the server (again) on the same port and directory; returns once it accepts
    /// connections (`pg_ctl -w` waits for that).
    public func launch() async throws {
        var serverOptions = ["-p", String(port), "-k", socketDirectory, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"]
        serverOptions += lock.withLock { extraOptions }
        try await tool("pg_ctl", ["-D", dataDirectory, "-l", logFile, "-w", "-t", "120", "-o", serverOptions.joined(separator: " "), "start"])
        lock.withLock { running = true }
    }

    /// Server settings for the next `launch` (e.g. ssl=on and its files), replacing earlier ones of the same name.
    public func setOptions(_ options: [String: String]) {
        lock.withLock {
            for (k, v) in options { extraOptions += ["-c", "\(k)=\(v)"] }
        }
    }

    /// A fast shutdown: open sessions are ended, the data is kept.
    public func stop() async throws {
        guard lock.withLock({ running }) else { return }
        try await tool("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "120", "stop"])
        lock.withLock { running = false }
    }

    public func restart() async throws {
        try await stop()
        try await launch()
    }

    /// SIGSTOP the postmaster and its children: the server keeps its connections open and
    /// stops answering, as a hung host or a network black hole would. `resume()` undoes it.
    public func pause() throws {
        guard let pid = postmasterPID() else { throw TestFailure("no postmaster.pid in \(dataDirectory)") }
        Foundation.kill(pid, SIGSTOP)
        for child in childProcesses(of: pid) { Foundation.kill(child, SIGSTOP) }
    }

    public func resume() throws {
        guard let pid = postmasterPID() else { throw TestFailure("no postmaster.pid in \(dataDirectory)") }
        for child in childProcesses(of: pid) { Foundation.kill(child, SIGCONT) }
        Foundation.kill(pid, SIGCONT)
    }

    /// SIGKILL the postmaster and its children, as a crash or power cut would; `launch()`
    /// recovers from the WAL. Returns once none of them is left.
    public func kill() async throws {
        guard let pid = postmasterPID() else { throw TestFailure("no postmaster.pid in \(dataDirectory)") }
        // Stopped first, so it cannot start replacements while its children are being killed.
        Foundation.kill(pid, SIGSTOP)
        let children = childProcesses(of: pid)
        for child in children { Foundation.kill(child, SIGKILL) }
        Foundation.kill(pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(30)
        while ([pid] + children).contains(where: isAlive) {
            guard ContinuousClock.now < deadline else { throw TestFailure("postgres processes \(([pid] + children).filter(isAlive)) outlived SIGKILL") }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The dead postmaster is an orphan zombie until init reaps it, and PostgreSQL reads a
        // pid that still exists as "another postmaster is running". It is dead (checked above),
        // so its lock files (data directory and socket) are stale: removing them is the
        // documented step after a crash.
        for stale in [dataDirectory + "/postmaster.pid", socketDirectory + "/.s.PGSQL.\(port).lock", socketDirectory + "/.s.PGSQL.\(port)"] {
            try? FileManager.default.removeItem(atPath: stale)
        }
        lock.withLock { running = false }
    }

    /// Stops the server and deletes its directory.
    public func cleanUp() async {
        if lock.withLock({ running }) {
            do { try await stop() } catch { try? await kill() }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The server's log, for a failing test's message.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    // MARK: Processes


    private func handToServerUser(_ path: String) throws {
        guard getuid() == 0 else { return }
        guard let account = PostgresInstallation.serverAccount else {
            throw TestFailure("running as root and there is neither a 'postgres' nor a 'nobody' user for PostgreSQL to run as")
        }
        for p in [path, socketDirectory] {
            guard chown(p, account.uid, account.gid) == 0 else { throw TestFailure("chown \(p) to \(account.name) failed: errno \(errno)") }
        }
    }

    /// Runs a PostgreSQL program to completion (as the server account under root).
    private func tool(_ name: String, _ args: [String]) async throws {
        let binary = binDirectory + "/" + name
        let output = directory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).out").path
        let process: ChildProcess
        if let account = PostgresInstallation.serverAccount {
            guard let runuser = findExecutable("runuser") else { throw TestFailure("running as root needs runuser (package util-linux)") }
            process = try ChildProcess(runuser, ["-u", account.name, "--", binary] + args, stdout: output, stderr: output)
        } else {
            process = try ChildProcess(binary, args, stdout: output, stderr: output)
        }
        let status = await process.exit.value
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw TestFailure("\(name) \(args.joined(separator: " ")) exited with \(status):\n\(text)\n--- server log ---\n\(log)")
        }
    }

    private func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    private func childProcesses(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { processInfo($0)?.parent == parent }
    }

    /// Alive means present and not a zombie (an orphan's zombie waits for init to reap it).
    private func isAlive(_ pid: pid_t) -> Bool {
        guard let info = processInfo(pid) else { return false }
        return info.state != "Z" && info.state != "X"
    }

    /// State and parent from /proc/PID/stat ("pid (comm) S ppid …"; comm may hold spaces).
    private func processInfo(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 2, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }
}

extension PostgresServer {
    /// Copies of a certificate and key the server account may read: PostgreSQL refuses a key
    /// file others can read, or one owned by another user. Returns their paths.
    public static func serverTLSFiles(certificate: String, key: String, in dir: String) throws -> (certificate: String, key: String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let copies = (dir + "/server.pem", dir + "/server.key")
        try FileManager.default.copyItem(atPath: certificate, toPath: copies.0)
        try FileManager.default.copyItem(atPath: key, toPath: copies.1)
        chmod(copies.1, 0o600)
        if let account = PostgresInstallation.serverAccount {
            for path in [dir, copies.0, copies.1] { _ = chown(path, account.uid, account.gid) }
        }
        return copies
    }
}

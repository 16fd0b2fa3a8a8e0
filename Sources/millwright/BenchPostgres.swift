import Foundation

/// A throw-away PostgreSQL for `bench --storage postgres`, from Debian's `postgresql` package:
/// initdb in a temp folder, started on a free loopback port with trust authentication, stopped
/// and deleted by `stop()` (or by the bench's cleanup on an error or a signal).
///
/// The same approach as the tests' `PostgresServer`, written again here because the product
/// must not depend on the test module. PostgreSQL refuses to run as root, so under root the
/// server runs as the package's `postgres` user (or `nobody`), which owns its folder.
final class BenchPostgres: @unchecked Sendable {
    static let user = "millwright"
    static let database = "millwright_bench"

    let port: Int
    let directory: String
    let binDirectory: String
    private let lock = NSLock()
    private var running = false

    var dataDirectory: String { directory + "/data" }
    var socketDirectory: String { directory + "/socket" }
    var logFile: String { directory + "/server.log" }
    /// Trust authentication on loopback: no password.
    var url: String { "postgres://\(Self.user)@127.0.0.1:\(port)/\(Self.database)?sslmode=disable" }

    private init(port: Int, directory: String, binDirectory: String) {
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
    }

    /// initdb, start, createdb under `parent` (a folder the server account can enter).
    /// On failure nothing is left running.
    static func start(in parent: String, cleanup: BenchCleanup) throws -> BenchPostgres {
        guard let bin = binDirectory() else {
            throw BenchFailure("bench --storage postgres needs PostgreSQL's server programs, and there is no /usr/lib/postgresql/*/bin/initdb: "
                + "install the 'postgresql' package (scripts/install-deps.sh), or give --pg-url (or MW_PG_URL) for a server of your own")
        }
        let server = BenchPostgres(port: try freeLoopbackPort(), directory: parent + "/postgres", binDirectory: bin)
        cleanup.add("temporary PostgreSQL in \(server.directory)") { server.stopNow() }
        try FileManager.default.createDirectory(atPath: server.socketDirectory, withIntermediateDirectories: true)
        try server.handToServerAccount([server.directory, server.socketDirectory])
        try server.tool("initdb", ["-D", server.dataDirectory, "-A", "trust", "-U", user, "-E", "UTF8", "--no-locale", "--no-sync"])
        // fsync on, as SQLite runs with synchronous=FULL: both pay for durable commits.
        let options = ["-p", String(server.port), "-k", server.socketDirectory, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"]
        server.lock.withLock { server.running = true }
        // -w: returns once the server accepts connections.
        try server.tool("pg_ctl", ["-D", server.dataDirectory, "-l", server.logFile, "-w", "-t", "120", "-o", options.joined(separator: " "), "start"])
        try server.tool("createdb", ["-h", server.socketDirectory, "-p", String(server.port), "-U", user, database])
        return server
    }

    /// The postmaster's pid (first line of postmaster.pid): its process tree is the server's CPU.
    func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    /// Stops the server (a fast shutdown: sessions are ended) and deletes its folder. Safe to
    /// call more than once; also the cleanup step, so it never throws.
    func stopNow() {
        if lock.withLock({ defer { running = false }; return running }) {
            do { try tool("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]) } catch {
                // pg_ctl could not stop it: kill the postmaster's tree rather than leave it running.
                if let pid = postmasterPID() {
                    let children = ProcessCPU.children(of: pid)
                    kill(pid, SIGKILL)
                    for child in children { kill(child, SIGKILL) }
                }
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The newest installed major version's bin folder, e.g. /usr/lib/postgresql/15/bin.
    static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// The unprivileged account the server runs as when we are root.
    static let serverAccount: (name: String, uid: uid_t, gid: gid_t)? = {
        guard getuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            if let pw = getpwnam(name) { return (name, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        return nil
    }()

    private func handToServerAccount(_ paths: [String]) throws {
        guard getuid() == 0 else { return }
        guard let account = Self.serverAccount else {
            throw BenchFailure("running as root, and there is neither a 'postgres' nor a 'nobody' user for PostgreSQL to run as: "
                + "create one (the 'postgresql' package does), or give --pg-url")
        }
        for p in paths {
            guard chown(p, account.uid, account.gid) == 0 else { throw BenchFailure("chown \(p) to \(account.name) failed: errno \(errno)") }
        }
    }

    /// Runs one of PostgreSQL's programs to completion (as the server account under root); its
    /// output goes to a file that the error quotes.
    private func tool(_ name: String, _ args: [String]) throws {
        let binary = binDirectory + "/" + name
        let outputPath = directory + "/\(name).out"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        guard let output = FileHandle(forWritingAtPath: outputPath) else { throw BenchFailure("cannot write \(outputPath)") }
        defer { try? output.close() }
        let process = Process()
        if let account = Self.serverAccount {
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: FileManager.default.isExecutableFile) else {
                throw BenchFailure("running as root needs runuser (package util-linux) to start PostgreSQL as \(account.name)")
            }
            process.executableURL = URL(fileURLWithPath: runuser)
            process.arguments = ["-u", account.name, "--", binary] + args
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = args
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw BenchFailure("\(name) \(args.joined(separator: " ")) exited with \(process.terminationStatus):\n\(text)\n--- server log (\(logFile)) ---\n\(log.suffix(4000))")
        }
    }
}

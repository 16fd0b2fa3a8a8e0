import Foundation
import LocalServers

/// A throw-away PostgreSQL for `bench --storage postgres`, from Debian's `postgresql` package:
/// initdb in a temp folder, started on a free loopback port with trust authentication, stopped
/// and deleted by `stop()` (or by the bench's cleanup on an error or a signal).
///
/// The same approach as the tests' `PostgresServer` (finding the programs, the port and the
/// account comes from `LocalServers`, shared with them). PostgreSQL refuses to run as root, so
/// under root the server runs as the package's `postgres` user (or `nobody`), which owns its folder.
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
        guard let bin = PostgresInstallation.binDirectory() else {
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


    private func handToServerAccount(_ paths: [String]) throws {
        guard getuid() == 0 else { return }
        guard let account = PostgresInstallation.serverAccount else {
            throw BenchFailure("running as root, and there is neither a 'postgres' nor a 'nobody' user for PostgreSQL to run as: "
                + "create one (the 'postgresql' package does), or give --pg-url")
        }
        for p in paths {
            guard chown(p, account.uid, account.gid) == 0 else { throw BenchFailure("chown \(p) to \(account.name) failed: errno \(errno)") }
        }
    }

    /// Runs one of PostgreSQL's programs to completion (as the server account under root); its
    /// output goes to a file that the error quotes.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: `pg_ctl start` leaves the
    /// postmaster running in the background, and Process never reported pg_ctl's own exit
    /// (the bench hung there). Signals are reset to their defaults in the child, because the
    /// bench ignores SIGINT and SIGTERM to handle them itself, and ignored signals are inherited.
    private func tool(_ name: String, _ args: [String]) throws {
        let binary = binDirectory + "/" + name
        let outputPath = directory + "/\(name).out"
        var argv = [binary] + args
        if let account = PostgresInstallation.serverAccount {
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: FileManager.default.isExecutableFile) else {
                throw BenchFailure("running as root needs runuser (package util-linux) to start PostgreSQL as \(account.name)")
            }
            argv = [runuser, "-u", account.name, "--"] + argv
        }
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &fileActions, &attributes, cArgs, environ)
        guard rc == 0 else { throw BenchFailure("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        guard exitCode == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw BenchFailure("\(name) \(args.joined(separator: " ")) exited with \(exitCode):\n\(text)\n--- server log (\(logFile)) ---\n\(log.suffix(4000))")
        }
    }
}

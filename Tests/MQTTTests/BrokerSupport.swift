import Foundation
import NIOCore
import NIOPosix
@testable import MQTT

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Locates an executable: /usr/sbin, /usr/bin, /usr/local/(s)bin, then PATH.
func findExecutable(_ name: String) -> String? {
    var dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
    dirs += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for d in dirs {
        let path = d + "/" + name
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A free loopback TCP port (bound to port 0 and released).
func freeLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

/// Runs `body` with a timeout (the sleep bounds the wait; it never synchronises anything).
/// Does not wait for a body that ignores cancellation.
func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
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

final class FirstResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    func set(_ c: CheckedContinuation<T, Error>) {
        lock.lock()
        continuation = c
        lock.unlock()
    }
    func complete(_ r: Result<T, Error>) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: r)
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// A child process spawned with posix_spawn, with a clean signal mask and default signal
/// dispositions (a test runner's threads may block SIGTERM, which children would inherit),
/// reaped by `waitpid` on a dispatch thread.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    /// Completes with the exit status (or 128 + signal).
    let exit: Task<Int32, Never>

    init(_ path: String, _ args: [String], stdout: String? = nil, stderr: String? = nil) throws {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
                DispatchQueue.global().async {
                    var status: Int32 = 0
                    while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                    let signal = status & 0x7F
                    c.resume(returning: signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
                }
            }
        }
    }

    func terminate() { kill(pid, SIGTERM) }
}

/// A mosquitto broker on a free loopback port, with its own configuration and data directory.
final class Mosquitto: @unchecked Sendable {
    let port: Int
    let directory: URL
    let persistence: Bool
    private var process: ChildProcess?
    private var launches = 0

    private init(port: Int, directory: URL, persistence: Bool) {
        self.port = port
        self.directory = directory
        self.persistence = persistence
    }

    static func start(persistence: Bool = false, allowAnonymous: Bool = true, tls: Bool = false,
                      users: [String: String] = [:]) async throws -> Mosquitto {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let broker = Mosquitto(port: try await freeLoopbackPort(), directory: dir, persistence: persistence)
        var conf = """
        listener \(broker.port) 127.0.0.1
        allow_anonymous \(allowAnonymous)
        log_dest stderr
        log_type \(ProcessInfo.processInfo.environment["MQTT_TEST_DEBUG"] != nil ? "all" : "error")
        log_type warning
        max_queued_messages 10000
        user \(ProcessInfo.processInfo.userName)
        """
        if persistence {
            conf += "\npersistence true\npersistence_location \(dir.path)/\nautosave_interval 0\n"
        }
        if tls {
            let files = ["ca.pem": TestCertificates.caPEM, "server.pem": TestCertificates.serverCertificatePEM,
                         "server.key": TestCertificates.serverKeyPEM, "client.pem": TestCertificates.clientCertificatePEM,
                         "client.key": TestCertificates.clientKeyPEM]
            for (name, pem) in files { try (pem + "\n").write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            conf += "\ncafile \(dir.path)/ca.pem\ncertfile \(dir.path)/server.pem\nkeyfile \(dir.path)/server.key\nrequire_certificate true\n"
        }
        if !users.isEmpty {
            guard let passwd = findExecutable("mosquitto_passwd") else { throw TestFailure("mosquitto_passwd is not installed (package 'mosquitto')") }
            let file = dir.appendingPathComponent("passwd").path
            try "".write(toFile: file, atomically: true, encoding: .utf8)
            for (user, password) in users {
                let p = try ChildProcess(passwd, ["-b", file, user, password])
                guard await p.exit.value == 0 else { throw TestFailure("mosquitto_passwd failed") }
            }
            conf += "\npassword_file \(file)\n"
        }
        try conf.write(to: dir.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        dbg("launching mosquitto on \(broker.port)")
        try await broker.launch()
        dbg("mosquitto up")
        return broker
    }

    func launch() async throws {
        guard let binary = findExecutable("mosquitto") else {
            throw TestFailure("mosquitto is not installed (looked in /usr/sbin and PATH); install the 'mosquitto' and 'mosquitto-clients' packages")
        }
        launches += 1
        process = try ChildProcess(binary, ["-c", directory.appendingPathComponent("mosquitto.conf").path],
                                   stderr: directory.appendingPathComponent(launches == 1 ? "mosquitto.log" : "mosquitto-\(launches).log").path)
        try await waitUntilAccepting()
    }

    /// Polls until the listener accepts TCP connections (condition wait, bounded).
    private func waitUntilAccepting() async throws {
        // Generous: with every suite running in parallel on two cores, resuming this task can
        // wait for seconds behind CPU-bound tests; mosquitto itself starts in milliseconds.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let p = process, kill(p.pid, 0) != 0 { throw TestFailure("mosquitto exited") }
            if let ch = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get() {
                try? await ch.close()
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("mosquitto did not start listening on \(port)")
    }

    /// SIGTERM and wait (mosquitto saves its persistence database on exit).
    func stop() async {
        guard let p = process else { return }
        process = nil
        p.terminate()
        _ = await p.exit.value
    }

    func restart() async throws {
        await stop()
        try await launch()
    }

    func cleanUp() async {
        await stop()
        if ProcessInfo.processInfo.environment["MQTT_TEST_DEBUG"] != nil {
            try? FileManager.default.copyItem(atPath: directory.appendingPathComponent("mosquitto.log").path, toPath: "/tmp/mqtt-debug-\(port).log")
            try? FileManager.default.copyItem(atPath: directory.appendingPathComponent("mosquitto-2.log").path, toPath: "/tmp/mqtt-debug-\(port)-2.log")
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// PEM files written for a TLS broker (CA, client certificate, client key).
    var tlsFiles: (ca: String, certificate: String, key: String) {
        (directory.appendingPathComponent("ca.pem").path, directory.appendingPathComponent("client.pem").path,
         directory.appendingPathComponent("client.key").path)
    }

    func clientConfiguration(_ clientID: String, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true,
                             sessionExpiry: UInt32 = 0, keepAlive: UInt16 = 30, tls: MQTTTLSConfiguration? = nil,
                             username: String? = nil, password: String? = nil, will: WillMessage? = nil) -> MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: "127.0.0.1", port: port, tls: tls,
            session: MQTTSessionConfiguration(protocolVersion: version, clientID: clientID, cleanStart: cleanStart,
                                              sessionExpiryInterval: sessionExpiry, keepAlive: keepAlive,
                                              username: username, password: password.map { Array($0.utf8) }, will: will),
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500), jitter: 0.5))
    }

    /// Runs a mosquitto command-line tool and returns its standard output.
    func runTool(_ name: String, _ args: [String], timeout: Double = 15) async throws -> String {
        guard let binary = findExecutable(name) else {
            throw TestFailure("\(name) is not installed; install the 'mosquitto-clients' package")
        }
        let outFile = directory.appendingPathComponent("tool-\(UUID().uuidString).out").path
        let p = try ChildProcess(binary, ["-h", "127.0.0.1", "-p", String(port)] + args, stdout: outFile)
        let status: Int32
        do {
            status = try await withTimeout(timeout, "\(name) \(args.joined(separator: " "))") { await p.exit.value }
        } catch {
            p.terminate()
            throw error
        }
        guard status == 0 else {
            throw TestFailure("\(name) \(args.joined(separator: " ")) exited with \(status)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: outFile))
        return String(decoding: data, as: UTF8.self)
    }
}

/// Starts a broker, runs `body`, and always stops the broker and removes its directory.
func withBroker(persistence: Bool = false, allowAnonymous: Bool = true, tls: Bool = false, users: [String: String] = [:],
                _ body: (Mosquitto) async throws -> Void) async throws {
    let broker = try await Mosquitto.start(persistence: persistence, allowAnonymous: allowAnonymous, tls: tls, users: users)
    do {
        try await body(broker)
    } catch {
        await broker.cleanUp()
        throw error
    }
    await broker.cleanUp()
}

/// Accumulates items and lets a test await a condition on them (with a timeout).
actor Collector<Item: Sendable> {
    private(set) var items: [Item] = []
    private var waiters: [Int: (predicate: @Sendable ([Item]) -> Bool, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var nextWaiter = 0

    func append(_ item: Item) {
        items.append(item)
        for (id, w) in waiters where w.predicate(items) {
            waiters.removeValue(forKey: id)
            w.continuation.resume(returning: true)
        }
    }

    /// Waits until `predicate(items)` holds; throws after `timeout` seconds.
    func waitUntil(_ what: String, timeout: Double = 20, _ predicate: @escaping @Sendable ([Item]) -> Bool) async throws {
        if predicate(items) { return }
        let id = nextWaiter
        nextWaiter += 1
        let ok = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            waiters[id] = (predicate, c)
            Task {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                self.expire(id)
            }
        }
        if !ok { throw TestFailure("timed out after \(timeout)s waiting for \(what); have \(items.count) items") }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: false)
    }
}

/// What a test consumer saw for one delivery.
struct Delivery: Sendable {
    var topic: String
    var payload: String
    var qos: QoS
    var isDuplicate: Bool
    /// Result of `acknowledge()` (`nil` when the consumer did not acknowledge).
    var acknowledged: Bool?
    var tag: String = ""
}

/// Consumes `client.messages` into a collector; `ack` decides whether to acknowledge each
/// message, `after` runs after each delivery is recorded.
@discardableResult
func consume(_ client: MQTTClient, into collector: Collector<Delivery>, tag: String = "",
             ack: @escaping @Sendable (MQTTMessage) -> Bool = { _ in true },
             after: @escaping @Sendable (Int) async -> Void = { _ in }) -> Task<Void, Never> {
    Task {
        var n = 0
        for await m in client.messages {
            var acked: Bool?
            if ack(m) { acked = await m.acknowledge() }
            await collector.append(Delivery(topic: m.topic, payload: m.payloadString, qos: m.qos, isDuplicate: m.isDuplicate, acknowledged: acked, tag: tag))
            n += 1
            await after(n)
        }
    }
}

/// Records client events for awaiting reconnects.
@discardableResult
func recordEvents(_ client: MQTTClient, into collector: Collector<MQTTClientEvent>) -> Task<Void, Never> {
    Task {
        for await e in client.events { await collector.append(e) }
    }
}

func connectedCount(_ events: [MQTTClientEvent]) -> Int {
    events.filter { if case .connected = $0 { true } else { false } }.count
}

func dbg(_ s: String) {
    if ProcessInfo.processInfo.environment["MQTT_TEST_DEBUG"] != nil { FileHandle.standardError.write(Data("[dbg] \(s)\n".utf8)) }
}

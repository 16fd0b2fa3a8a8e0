import Foundation
import Logging
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
func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestFailure("timed out after \(seconds)s waiting for \(what)")
        }
        return value
    }
}

extension Process {
    /// Waits for exit without blocking a thread.
    func exited() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(c)
            terminationHandler = { _ in once.resume() }
            if !isRunning { once.resume() }
        }
    }
}

final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ c: CheckedContinuation<Void, Never>) { continuation = c }
    func resume() {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }
}

/// A mosquitto broker on a free loopback port, with its own configuration and data directory.
final class Mosquitto: @unchecked Sendable {
    let port: Int
    let directory: URL
    let persistence: Bool
    private var process: Process?

    private init(port: Int, directory: URL, persistence: Bool) {
        self.port = port
        self.directory = directory
        self.persistence = persistence
    }

    static func start(persistence: Bool = false) async throws -> Mosquitto {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let broker = Mosquitto(port: try await freeLoopbackPort(), directory: dir, persistence: persistence)
        var conf = """
        listener \(broker.port) 127.0.0.1
        allow_anonymous true
        log_dest stderr
        log_type error
        log_type warning
        max_queued_messages 10000
        """
        if persistence {
            conf += "\npersistence true\npersistence_location \(dir.path)/\nautosave_interval 0\n"
        }
        try conf.write(to: dir.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        try await broker.launch()
        return broker
    }

    func launch() async throws {
        guard let binary = findExecutable("mosquitto") else {
            throw TestFailure("mosquitto is not installed (looked in /usr/sbin and PATH); install the 'mosquitto' and 'mosquitto-clients' packages")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        try await waitUntilAccepting()
    }

    /// Polls until the listener accepts TCP connections (condition wait, bounded).
    private func waitUntilAccepting() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let p = process, !p.isRunning { throw TestFailure("mosquitto exited with status \(p.terminationStatus)") }
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
        if p.isRunning { p.terminate() }
        await p.exited()
    }

    func restart() async throws {
        await stop()
        try await launch()
    }

    func cleanUp() async {
        await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func clientConfiguration(_ clientID: String, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true,
                             sessionExpiry: UInt32 = 0, keepAlive: UInt16 = 30) -> MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: "127.0.0.1", port: port,
            session: MQTTSessionConfiguration(protocolVersion: version, clientID: clientID, cleanStart: cleanStart,
                                              sessionExpiryInterval: sessionExpiry, keepAlive: keepAlive),
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500), jitter: 0.5))
    }

    /// Runs a mosquitto command-line tool and returns its standard output.
    func runTool(_ name: String, _ args: [String], timeout: Double = 15) async throws -> String {
        guard let binary = findExecutable(name) else {
            throw TestFailure("\(name) is not installed; install the 'mosquitto-clients' package")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["-h", "127.0.0.1", "-p", String(port)] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let reader = Task.detached { out.fileHandleForReading.readDataToEndOfFile() }
        do {
            try await withTimeout(timeout, "\(name) \(args.joined(separator: " "))") { await p.exited() }
        } catch {
            p.terminate()
            throw error
        }
        let data = await reader.value
        guard p.terminationStatus == 0 else {
            throw TestFailure("\(name) \(args.joined(separator: " ")) exited with \(p.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Starts a broker, runs `body`, and always stops the broker and removes its directory.
func withBroker(persistence: Bool = false, _ body: (Mosquitto) async throws -> Void) async throws {
    let broker = try await Mosquitto.start(persistence: persistence)
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

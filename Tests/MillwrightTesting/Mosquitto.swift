import Foundation
import NIOCore
import NIOPosix

/// A mosquitto broker on a free loopback port, with its own configuration and data directory.
public final class Mosquitto: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    public let persistence: Bool
    private var process: ChildProcess?
    private var launches = 0

    private init(port: Int, directory: URL, persistence: Bool) {
        self.port = port
        self.directory = directory
        self.persistence = persistence
    }

    public static func start(persistence: Bool = false, allowAnonymous: Bool = true, tls: Bool = false,
                      users: [String: String] = [:]) async throws -> Mosquitto {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let broker = Mosquitto(port: try freeLoopbackPort(), directory: dir, persistence: persistence)
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
        try await broker.launch()
        return broker
    }

    public func launch() async throws {
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
    public func stop() async {
        guard let p = process else { return }
        process = nil
        p.terminate()
        _ = await p.exit.value
    }

    public func restart() async throws {
        await stop()
        try await launch()
    }

    public func cleanUp() async {
        await stop()
        if ProcessInfo.processInfo.environment["MQTT_TEST_DEBUG"] != nil {
            try? FileManager.default.copyItem(atPath: directory.appendingPathComponent("mosquitto.log").path, toPath: "/tmp/mqtt-debug-\(port).log")
            try? FileManager.default.copyItem(atPath: directory.appendingPathComponent("mosquitto-2.log").path, toPath: "/tmp/mqtt-debug-\(port)-2.log")
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// PEM files written for a TLS broker (CA, client certificate, client key).
    public var tlsFiles: (ca: String, certificate: String, key: String) {
        (directory.appendingPathComponent("ca.pem").path, directory.appendingPathComponent("client.pem").path,
         directory.appendingPathComponent("client.key").path)
    }

    /// Runs a mosquitto command-line tool and returns its standard output.
    public func runTool(_ name: String, _ args: [String], timeout: Double = 15) async throws -> String {
        guard let binary = findExecutable(name) else {
            throw TestFailure("\(name) is not installed; install the 'mosquitto-clients' package")
        }
        let outFile = directory.appendingPathComponent("tool-\(UUID().uuidString).out").path
        let errFile = outFile + ".err"
        let p = try ChildProcess(binary, ["-h", "127.0.0.1", "-p", String(port)] + args, stdout: outFile, stderr: errFile)
        let status = try await p.exitStatus(within: timeout, "\(name) \(args.joined(separator: " "))", stderr: errFile)
        guard status == 0 else {
            throw TestFailure("\(name) \(args.joined(separator: " ")) exited with \(status)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: outFile))
        return String(decoding: data, as: UTF8.self)
    }
}

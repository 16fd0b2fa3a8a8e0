import Foundation
import Testing
@testable import Notify

/// A real SMTP server (aiosmtpd from PyPI) in a child process. It writes each received message
/// and a JSON sidecar (envelope, TLS, auth) into a directory the test reads back.
final class AiosmtpdServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let stdin: Pipe
    let dir: URL

    static let script = #"""
    import asyncio, json, os, socket, ssl, sys, time
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    out, user, password, tls_cert, tls_key, exclude = sys.argv[1:7]
    require_starttls = sys.argv[7] == "1"

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody@"):
                return "550 5.1.1 <%s>: mailbox unavailable" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            n = len([f for f in os.listdir(out) if f.endswith(".eml")])
            meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None, "authenticated": bool(session.authenticated)}
            base = os.path.join(out, "msg%03d" % n)
            with open(base + ".json", "w") as f: json.dump(meta, f)
            with open(base + ".tmp", "wb") as f: f.write(envelope.original_content)
            os.rename(base + ".tmp", base + ".eml")
            return "250 2.0.0 Ok: queued as MW%03d" % n

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if user:
        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = bool(tls_cert)
    if exclude:
        kwargs["auth_exclude_mechanism"] = exclude.split(",")
    if tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_cert, tls_key)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = require_starttls
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    with open(os.path.join(out, "port.tmp"), "w") as f: f.write(str(port))
    os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
    # Lives as long as the test holds our stdin open; EOF (test done or crashed) ends us.
    sys.stdin.buffer.read()
    os._exit(0)
    """#

    struct Options {
        var user = "", password = ""
        var tls: (cert: String, key: String)? = nil
        var excludeMechanisms: [String] = []
        var requireStartTLS = false
    }

    static func requireAiosmtpd() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import aiosmtpd"]
        p.standardError = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw SetupError("aiosmtpd is not installed: run `python3 -m pip install aiosmtpd` (the SMTP integration tests need a real server)")
        }
    }

    struct SetupError: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    init(_ o: Options = Options()) async throws {
        try Self.requireAiosmtpd()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let scriptURL = dir.appendingPathComponent("server.py")
        try Self.script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let mail = dir.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mail, withIntermediateDirectories: true)
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proc.arguments = ["python3", scriptURL.path, mail.path, o.user, o.password, o.tls?.cert ?? "", o.tls?.key ?? "",
                          o.excludeMechanisms.joined(separator: ","), o.requireStartTLS ? "1" : "0"]
        let err = Pipe(), input = Pipe()
        proc.standardError = err
        proc.standardInput = input
        try proc.run()
        // Waiting for a child process to bind is the one place polling is unavoidable.
        let portFile = mail.appendingPathComponent("port")
        var port: Int?
        for _ in 0..<200 {
            if let s = try? String(contentsOf: portFile, encoding: .utf8), let p = Int(s) { port = p; break }
            if !proc.isRunning {
                let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw SetupError("aiosmtpd exited: \(msg)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let port else {
            kill(proc.processIdentifier, SIGKILL)
            throw SetupError("aiosmtpd did not start within 10 s")
        }
        self.dir = dir
        self.process = proc
        self.port = port
        self.stdin = input
    }

    var mailDir: URL { dir.appendingPathComponent("mail") }

    func messages() throws -> [(meta: [String: Any], raw: String)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: mailDir.path).filter { $0.hasSuffix(".eml") }.sorted()
        return try files.map { f in
            let base = mailDir.appendingPathComponent(String(f.dropLast(4)))
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathExtension("json"))) as! [String: Any]
            return (meta, try String(contentsOf: base.appendingPathExtension("eml"), encoding: .utf8))
        }
    }

    deinit {
        // Closing stdin ends the server; SIGKILL in case it is wedged. No waitUntilExit: it
        // busy-waits on Linux and the test gains nothing from waiting.
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: dir)
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
struct TestPKI {
    let dir: URL
    var caPEM: String { dir.appendingPathComponent("ca.pem").path }
    var certPEM: String { dir.appendingPathComponent("server.pem").path }
    var keyPEM: String { dir.appendingPathComponent("server.key").path }

    static func make(cn: String = "Millwright Test CA") throws -> TestPKI {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(to: dir.appendingPathComponent("ext.cnf"), atomically: true, encoding: .utf8)
        let script = """
        set -e
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=\(cn)' \
          -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost'
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = dir
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw AiosmtpdServer.SetupError("openssl failed to make test certificates") }
        return TestPKI(dir: dir)
    }
}

@Suite(.serialized) struct AiosmtpdTests {
    let when = Date(timeIntervalSince1970: 1_795_309_445)

    func message(to: [String] = ["t114@plant.example"], subject: String = "[CRITICAL] WO-1042: Riss an Umlenktrommel – prüfen") -> EmailMessage {
        EmailMessage(from: Mailbox("millwright@plant.example", name: "Millwright"), to: to.map { Mailbox($0) },
                     subject: subject, text: "Crack on head pulley.\n.this line starts with a dot\n..and two\nEvidence: https://mw.plant.example/e/ab12.jpg",
                     html: "<p>Crack on <b>head pulley</b></p>", date: when, messageID: "wo-1042@plant.example")
    }

    @Test func plainDeliveryWithDotStuffing() async throws {
        let server = try await AiosmtpdServer()
        let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .plain, replyTimeout: .seconds(10)))
        let report = try await client.send(message(to: ["t114@plant.example", "sup@plant.example"]))
        #expect(report.accepted == ["t114@plant.example", "sup@plant.example"])
        #expect(report.serverReply.hasPrefix("2.0.0 Ok: queued as MW000"))
        #expect(!report.usedTLS)
        let msgs = try server.messages()
        #expect(msgs.count == 1)
        #expect(msgs[0].meta["mail_from"] as? String == "millwright@plant.example")
        #expect(msgs[0].meta["rcpt_tos"] as? [String] == ["t114@plant.example", "sup@plant.example"])
        let raw = msgs[0].raw
        #expect(raw.contains("Message-ID: <wo-1042@plant.example>"))
        #expect(raw.contains("Subject: =?UTF-8?B?"))
        // The server removed our dot-stuffing: the body arrives exactly as written.
        #expect(raw.contains("\r\n.this line starts with a dot\r\n..and two\r\n"))
    }

    @Test func authPlainAndLoginAreAcceptedAndBadPasswordIsTyped() async throws {
        let server = try await AiosmtpdServer(.init(user: "mw", password: "s3cret"))
        func client(_ pw: String) -> SMTPClient {
            SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .plain,
                                                        credentials: SMTPCredentials(username: "mw", password: pw), allowInsecureAuth: true))
        }
        let r = try await client("s3cret").send(message())
        #expect(r.authMechanism == .plain)
        #expect(try server.messages().first?.meta["authenticated"] as? Bool == true)
        await #expect(throws: SMTPError.authenticationFailed(code: 535, text: "5.7.8 Authentication credentials invalid")) {
            try await client("wrong").send(message())
        }
        // Without allowInsecureAuth we refuse to send the password in clear.
        let strict = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .plain,
                                                                 credentials: SMTPCredentials(username: "mw", password: "s3cret")))
        await #expect(throws: SMTPError.insecureAuthRefused) { try await strict.send(message()) }

        let loginOnly = try await AiosmtpdServer(.init(user: "mw", password: "s3cret", excludeMechanisms: ["PLAIN"]))
        let c = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: loginOnly.port, security: .plain,
                                                            credentials: SMTPCredentials(username: "mw", password: "s3cret"), allowInsecureAuth: true))
        #expect(try await c.send(message()).authMechanism == .login)
        #expect(try loginOnly.messages().count == 1)
    }

    @Test func startTLSWithCustomCAThenAuth() async throws {
        let pki = try TestPKI.make()
        let server = try await AiosmtpdServer(.init(user: "mw", password: "s3cret", tls: (pki.certPEM, pki.keyPEM), requireStartTLS: true))
        let config = SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .startTLS,
                                       tls: try SMTPConfiguration.tlsConfiguration(caPEMFile: pki.caPEM),
                                       credentials: SMTPCredentials(username: "mw", password: "s3cret"), replyTimeout: .seconds(10))
        let r = try await SMTPClient(configuration: config).send(message())
        #expect(r.usedTLS)
        #expect(r.authMechanism == .plain)
        let m = try server.messages()
        #expect(m.count == 1)
        #expect(m[0].meta["tls"] as? Bool == true)
        #expect(m[0].meta["authenticated"] as? Bool == true)

        // A certificate from a CA we do not trust fails the handshake with a TLS error.
        let other = try TestPKI.make(cn: "Someone Else CA")
        var bad = config
        bad.tls = try SMTPConfiguration.tlsConfiguration(caPEMFile: other.caPEM)
        do {
            _ = try await SMTPClient(configuration: bad).send(message())
            Issue.record("delivered despite an untrusted certificate")
        } catch {
            guard case .tls = error else { Issue.record("expected a TLS error, got \(error)"); return }
        }
        #expect(try server.messages().count == 1)
    }

    @Test func serverWithoutStartTLSIsRefusedWhenRequired() async throws {
        let server = try await AiosmtpdServer()
        let c = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .startTLS))
        await #expect(throws: SMTPError.startTLSNotOffered) { try await c.send(message()) }
        #expect(try server.messages().isEmpty)
    }

    @Test func rejectedRecipientsAreReportedWithTheServerReply() async throws {
        let server = try await AiosmtpdServer()
        let c = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .plain))
        let r = try await c.send(message(to: ["nobody@plant.example", "sup@plant.example"]))
        #expect(r.accepted == ["sup@plant.example"])
        #expect(r.rejected == [RecipientRejection(address: "nobody@plant.example", code: 550, text: "5.1.1 <nobody@plant.example>: mailbox unavailable")])
        await #expect(throws: SMTPError.allRecipientsRejected([RecipientRejection(address: "nobody@plant.example", code: 550, text: "5.1.1 <nobody@plant.example>: mailbox unavailable")])) {
            try await c.send(message(to: ["nobody@plant.example"]))
        }
    }

    @Test func connectRefusedAndSilentServerTimeout() async throws {
        // A port nobody listens on.
        let c = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: 1, security: .plain))
        do { _ = try await c.send(message()); Issue.record("connected to port 1?") } catch {
            guard case .connectFailed = error else { Issue.record("expected connectFailed, got \(error)"); return }
        }
        // A listener that accepts and never greets: the reply timeout names the stage.
        let silent = try SilentListener()
        let s = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: silent.port, security: .plain, replyTimeout: .milliseconds(300)))
        await #expect(throws: SMTPError.timeout(stage: "greeting")) { try await s.send(message()) }
        _ = silent
    }
}

/// A TCP socket in listen state that never accepts or answers (the kernel completes the handshake).
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0, listen(fd, 4) == 0 else { throw AiosmtpdServer.SetupError("cannot listen") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
    }
    deinit { close(fd) }
}

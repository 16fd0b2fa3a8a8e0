import Foundation
import Testing
@testable import Notify

/// A raw-socket Python server that answers STARTTLS with "220" plus an injected plaintext reply
/// in the same segment — what a man in the middle would do to smuggle a command response.
private let injectingServer = #"""
import os, socket, sys
out = sys.argv[1]
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
with open(os.path.join(out, "port.tmp"), "w") as f: f.write(str(s.getsockname()[1]))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
c, _ = s.accept()
f = c.makefile("rb")
c.sendall(b"220 evil ESMTP\r\n")
f.readline()                                  # EHLO
c.sendall(b"250-evil\r\n250 STARTTLS\r\n")
f.readline()                                  # STARTTLS
c.sendall(b"220 go ahead\r\n250 injected\r\n")
sys.stdin.buffer.read()
"""#

@Suite struct InjectionTests {
    @Test func plaintextAfterSTARTTLSGoAheadIsRefused() async throws {
        try AiosmtpdServer.requireAiosmtpd()   // same python3 the other tests use
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-inj-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("inject.py")
        try injectingServer.write(to: script, atomically: true, encoding: .utf8)
        let proc = Process(), input = Pipe()
        proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        proc.arguments = ["python3", script.path, dir.path]
        proc.standardInput = input
        try proc.run()
        defer { try? input.fileHandleForWriting.close(); if proc.isRunning { kill(proc.processIdentifier, SIGKILL) } }
        var port: Int?
        for _ in 0..<200 {
            if let s = try? String(contentsOf: dir.appendingPathComponent("port"), encoding: .utf8), let p = Int(s) { port = p; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let p = try #require(port)
        let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: p, security: .startTLS, replyTimeout: .seconds(5)))
        let m = EmailMessage(from: Mailbox("a@b.example"), to: [Mailbox("c@d.example")], subject: "x", text: "y", date: Date(timeIntervalSince1970: 0))
        // Normally both replies arrive in one read and are refused as such; should the segment
        // be split, the stray bytes hit the TLS handler instead. Either way nothing is accepted.
        do {
            _ = try await client.send(m)
            Issue.record("delivered through an injected reply")
        } catch {
            switch error {
            case .protocolViolation(let why): #expect(why == "data after the STARTTLS reply, before TLS")
            case .tls: break
            default: Issue.record("unexpected error \(error)")
            }
        }
    }
}

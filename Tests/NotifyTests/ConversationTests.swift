import Foundation
import Testing
@testable import Notify

/// Drives the conversation with scripted server replies; returns what the client sent as text.
private func run(_ c: inout SMTPConversation, _ replies: [String], tls: Bool = false) -> (sent: [String], last: SMTPConversation.Action?) {
    var sent: [String] = []
    var last: SMTPConversation.Action?
    var parser = SMTPReplyParser()
    func handle(_ actions: [SMTPConversation.Action]) {
        for a in actions {
            last = a
            switch a {
            case .send(let b): sent.append(String(decoding: b, as: UTF8.self))
            case .startTLS: handle(c.tlsEstablished())
            default: break
            }
        }
    }
    for r in replies {
        for reply in try! parser.feed(Array((r + "\r\n").utf8)) { handle(c.receive(reply)) }
    }
    return (sent, last)
}

private let envelope = SMTPEnvelope(from: "mw@plant.example", recipients: ["t114@plant.example", "sup@plant.example"],
                                    data: Array("Subject: x\r\n\r\nhello\r\n".utf8))

@Suite struct ConversationTests {
    @Test func replyParserHandlesMultiLineAndSplitReads() throws {
        var p = SMTPReplyParser()
        #expect(try p.feed(Array("250-mail.example greets\r\n250-STAR".utf8)) == [])
        let r = try p.feed(Array("TTLS\r\n250 AUTH PLAIN LOGIN\r\n220 ready\n".utf8))
        #expect(r == [SMTPReply(code: 250, lines: ["mail.example greets", "STARTTLS", "AUTH PLAIN LOGIN"]), SMTPReply(code: 220, lines: ["ready"])])
        #expect(throws: SMTPError.protocolViolation("not an SMTP reply: \"HTTP/1.1 400 Bad Request\"")) {
            try p.feed(Array("HTTP/1.1 400 Bad Request\r\n".utf8))
        }
        var q = SMTPReplyParser()
        #expect(throws: SMTPError.self) { try q.feed(Array("250-a\r\n251 b\r\n".utf8)) }
    }

    @Test func plainConversationWithDotStuffedData() {
        var c = SMTPConversation(clientName: "mw.test", envelope: envelope, requireStartTLS: false)
        let (sent, last) = run(&c, ["220 hi", "250-hi\r\n250 8BITMIME", "250 ok", "250 ok", "250 ok", "354 go", "250 queued as X1", "221 bye"])
        #expect(sent == ["EHLO mw.test\r\n", "MAIL FROM:<mw@plant.example> BODY=8BITMIME\r\n", "RCPT TO:<t114@plant.example>\r\n",
                         "RCPT TO:<sup@plant.example>\r\n", "DATA\r\n", "Subject: x\r\n\r\nhello\r\n.\r\n", "QUIT\r\n"])
        #expect(last == .finished(SMTPDeliveryReport(accepted: envelope.recipients, rejected: [], serverReply: "queued as X1", usedTLS: false, authMechanism: nil)))
    }

    @Test func startTLSThenAuthPlain() {
        var c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: true,
                                 credentials: SMTPCredentials(username: "user", password: "pass"))
        let (sent, _) = run(&c, ["220 hi", "250-hi\r\n250-STARTTLS\r\n250 AUTH LOGIN", "220 go ahead", "250-hi\r\n250 AUTH LOGIN PLAIN", "235 ok"])
        #expect(sent == ["EHLO mw\r\n", "STARTTLS\r\n", "EHLO mw\r\n", "AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "MAIL FROM:<mw@plant.example>\r\n"])
        #expect(c.secure)
    }

    @Test func authLoginWhenOnlyLoginIsOffered() {
        var c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false, implicitTLS: true,
                                 credentials: SMTPCredentials(username: "user", password: "pass"))
        let (sent, _) = run(&c, ["220 hi", "250-hi\r\n250 AUTH=LOGIN", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 ok"])
        #expect(sent == ["EHLO mw\r\n", "AUTH LOGIN\r\n", "dXNlcg==\r\n", "cGFzcw==\r\n", "MAIL FROM:<mw@plant.example>\r\n"])
    }

    @Test func typedErrorsCarryTheServerReply() {
        var c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: true)
        #expect(run(&c, ["220 hi", "250 hi"]).last == .fail(.startTLSNotOffered, quit: true))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false, credentials: SMTPCredentials(username: "u", password: "p"))
        #expect(run(&c, ["220 hi", "250-hi\r\n250 AUTH PLAIN"]).last == .fail(.insecureAuthRefused, quit: true))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false, credentials: SMTPCredentials(username: "u", password: "p"), allowInsecureAuth: true)
        #expect(run(&c, ["220 hi", "250-hi\r\n250 AUTH PLAIN", "535 5.7.8 Authentication credentials invalid"]).last
                == .fail(.authenticationFailed(code: 535, text: "5.7.8 Authentication credentials invalid"), quit: true))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false, credentials: SMTPCredentials(username: "u", password: "p"), allowInsecureAuth: true)
        #expect(run(&c, ["220 hi", "250-hi\r\n250 AUTH CRAM-MD5"]).last == .fail(.noSupportedAuthMechanism(offered: ["CRAM-MD5"]), quit: true))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        #expect(run(&c, ["554 go away"]).last == .fail(.rejected(stage: "greeting", code: 554, text: "go away"), quit: false))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        #expect(run(&c, ["220 hi", "250 hi", "250 ok", "550 5.1.1 unknown", "550 5.1.1 unknown too"]).last
                == .fail(.allRecipientsRejected([RecipientRejection(address: "t114@plant.example", code: 550, text: "5.1.1 unknown"),
                                                 RecipientRejection(address: "sup@plant.example", code: 550, text: "5.1.1 unknown too")]), quit: true))

        c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        #expect(run(&c, ["220 hi", "250 hi", "250 ok", "250 ok", "250 ok", "354 go", "552 5.3.4 too big"]).last
                == .fail(.rejected(stage: "message", code: 552, text: "5.3.4 too big"), quit: true))
        #expect(SMTPError.rejected(stage: "message", code: 552, text: "5.3.4 too big").description == "SMTP message rejected: 552 5.3.4 too big")
    }

    @Test func partialRecipientRejectionStillDelivers() {
        var c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        let (_, last) = run(&c, ["220 hi", "250 hi", "250 ok", "550 no such user", "250 ok", "354 go", "250 ok", "221 bye"])
        guard case .finished(let r)? = last else { Issue.record("not finished: \(String(describing: last))"); return }
        #expect(r.accepted == ["sup@plant.example"])
        #expect(r.rejected == [RecipientRejection(address: "t114@plant.example", code: 550, text: "no such user")])
    }

    @Test func timeoutsAndClosesNameTheStage() {
        var c = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        _ = run(&c, ["220 hi", "250 hi"])
        #expect(c.timedOut() == [.fail(.timeout(stage: "MAIL FROM"), quit: false)])
        var d = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        _ = run(&d, ["220 hi"])
        #expect(d.connectionClosed() == [.fail(.connectionClosed(stage: "ehlo"), quit: false)])
        // Closed while waiting for QUIT's answer: the message was accepted, that is success.
        var e = SMTPConversation(clientName: "mw", envelope: envelope, requireStartTLS: false)
        _ = run(&e, ["220 hi", "250 hi", "250 ok", "250 ok", "250 ok", "354 go", "250 ok"])
        guard case .finished? = e.connectionClosed().first else { Issue.record("expected success"); return }
    }

    @Test func dotStuffingAndLineEndings() {
        let raw = Array("a\n.hidden\r\n..two\rlast.".utf8)
        #expect(String(decoding: SMTPConversation.dotStuff(raw), as: UTF8.self) == "a\r\n..hidden\r\n...two\r\nlast.\r\n.\r\n")
        #expect(String(decoding: SMTPConversation.dotStuff(Array(".\r\n".utf8)), as: UTF8.self) == "..\r\n.\r\n")
        #expect(String(decoding: SMTPConversation.dotStuff([]), as: UTF8.self) == ".\r\n")
    }

    @Test func commandInjectionIsNeutralised() {
        let evil = SMTPEnvelope(from: "a@b\r\nRCPT TO:<x@evil>", recipients: ["c@d"], data: [])
        var c = SMTPConversation(clientName: "mw", envelope: evil, requireStartTLS: false)
        let (sent, _) = run(&c, ["220 hi", "250 hi"])
        #expect(sent.last == "MAIL FROM:<a@bRCPT TO:<x@evil>>\r\n")
    }
}

@Suite struct STARTTLSInjectionTests {
    @Test func parserReportsBufferedInput() throws {
        var p = SMTPReplyParser()
        #expect(try p.feed(Array("220 go ahead\r\n250 inj".utf8)).count == 1)
        #expect(p.hasBufferedInput)
        var q = SMTPReplyParser()
        _ = try q.feed(Array("220 go ahead\r\n".utf8))
        #expect(!q.hasBufferedInput)
    }
}

import Foundation
import Testing
@testable import Notify

@Suite struct MessageTests {
    let date = Date(timeIntervalSince1970: 1_795_300_000)   // 2026-11-22

    @Test func plainASCIIMessage() {
        let m = EmailMessage(from: Mailbox("mw@plant.example", name: "Millwright"), to: [Mailbox("t114@plant.example", name: "A. Ortiz")],
                             subject: "[CRITICAL] WO-1: crack on pulley", text: "Line one\n.starts with a dot", date: date, messageID: "wo-1@plant.example")
        let text = String(decoding: m.render(), as: UTF8.self)
        #expect(text == [
            "From: \"Millwright\" <mw@plant.example>",
            "To: \"A. Ortiz\" <t114@plant.example>",
            "Subject: [CRITICAL] WO-1: crack on pulley",
            "Date: \(MIME.rfc5322Date(date))",
            "Message-ID: <wo-1@plant.example>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 7bit",
            "",
            "Line one",
            ".starts with a dot",
            "",
        ].joined(separator: "\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func dateHeaderIsRFC5322() {
        #expect(MIME.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 1 Jan 1970 00:00:00 +0000")
        #expect(MIME.rfc5322Date(Date(timeIntervalSince1970: 1_795_309_445)) == "Sun, 22 Nov 2026 01:04:05 +0000")
    }

    @Test func utf8SubjectIsEncodedPerRFC2047() {
        let subject = "Riss an Umlenktrommel – Förderband 3: sofort prüfen, Störung ÄÖÜ äöü ß € 🚨 " + String(repeating: "ü", count: 40)
        let v = MIME.encodeHeaderValue(subject, nameLength: 9)
        let words = v.components(separatedBy: "\r\n ")
        #expect(words.count > 1)
        var bytes: [UInt8] = []
        for w in words {
            #expect(w.count <= 75)
            #expect(w.hasPrefix("=?UTF-8?B?") && w.hasSuffix("?="))
            let payload = String(w.dropFirst(10).dropLast(2))
            let chunk = Data(base64Encoded: payload)!
            // Each word decodes on its own to valid UTF-8: no character split across words.
            #expect(String(data: chunk, encoding: .utf8) != nil)
            bytes += chunk
        }
        #expect(String(decoding: bytes, as: UTF8.self) == subject)
        #expect(MIME.encodeHeaderValue("plain", nameLength: 9) == "plain")
        // A header-injection attempt stays one header.
        #expect(!MIME.encodeHeaderValue("x\r\nBcc: evil@x", nameLength: 9).contains("\r\nBcc"))
    }

    @Test func htmlAlternativeAndUTF8Body() {
        var m = EmailMessage(from: Mailbox("mw@plant.example"), to: [Mailbox("a@plant.example"), Mailbox("b@plant.example", name: "Jörg")],
                             subject: "x", text: "Prüfen", html: "<p>Prüfen</p>", date: date, messageID: "id@x")
        m.cc = [Mailbox("sup@plant.example")]
        let text = String(decoding: m.render(boundary: "BOUNDARY"), as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/alternative; boundary=\"BOUNDARY\""))
        #expect(text.contains("To: a@plant.example, =?UTF-8?B?SsO2cmc=?= <b@plant.example>"))
        #expect(text.contains("Cc: sup@plant.example"))
        #expect(text.contains("--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nUHLDvGZlbg==\r\n"))
        #expect(text.contains("--BOUNDARY\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+UHLDvGZlbjwvcD4=\r\n--BOUNDARY--\r\n"))
        #expect(m.envelope.recipients == ["a@plant.example", "b@plant.example", "sup@plant.example"])
    }
}

@Suite struct WebhookBodyTests {
    let n = WorkOrderNotification(workOrderID: "WO-1042", title: "Crack on head pulley", priority: "critical", asset: "10004712",
                                  location: "Line 2 / Conveyor 3", defectClass: "crack", severity: 91.4, assignee: "T-114 A. Ortiz",
                                  assignmentReason: "mechanical ✓, on shift B, 2 open (weighted 5), same area line-2",
                                  evidenceURL: "https://mw.plant.example/evidence/ab12.jpg", workOrderURL: "https://cmms.example/wo/1042",
                                  detectedAt: Date(timeIntervalSince1970: 1_795_309_445))

    func json(_ f: WebhookBody.Flavor) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(WebhookBody.body(n, flavor: f))) as! [String: Any]
    }

    @Test func generic() throws {
        let o = try json(.generic)
        #expect(o["event"] as? String == "work_order.created")
        #expect(o["evidence_url"] as? String == "https://mw.plant.example/evidence/ab12.jpg")
        #expect(o["assignment_reason"] as? String == n.assignmentReason)
        #expect(o["detected_at"] as? String == "2026-11-22T01:04:05Z")
        // Stable bytes: sorted keys.
        #expect(WebhookBody.body(n, flavor: .generic) == WebhookBody.body(n, flavor: .generic))
        var esc = n; esc.stage = 2
        #expect(try JSONSerialization.jsonObject(with: Data(WebhookBody.body(esc, flavor: .generic))) is [String: Any])
        #expect((try JSONSerialization.jsonObject(with: Data(WebhookBody.body(esc, flavor: .generic))) as! [String: Any])["event"] as? String == "work_order.escalated")
    }

    @Test func slack() throws {
        let o = try json(.slack)
        #expect(o["text"] as? String == "[CRITICAL] WO-1042: Crack on head pulley <https://mw.plant.example/evidence/ab12.jpg|evidence>")
        let blocks = o["blocks"] as! [[String: Any]]
        #expect(blocks.map { $0["type"] as! String } == ["header", "section", "image", "actions"])
        #expect(blocks[2]["image_url"] as? String == n.evidenceURL)
        let fields = blocks[1]["fields"] as! [[String: Any]]
        #expect(fields.count <= 10)
        #expect(fields.contains { ($0["text"] as? String) == "*Why*\nmechanical ✓, on shift B, 2 open (weighted 5), same area line-2" })
        var tricky = n; tricky.title = "<!channel> & co"
        let t = try JSONSerialization.jsonObject(with: Data(WebhookBody.body(tricky, flavor: .slack))) as! [String: Any]
        #expect((t["text"] as! String).hasPrefix("[CRITICAL] WO-1042: &lt;!channel&gt; &amp; co"))
    }

    @Test func teams() throws {
        let card = try json(.teams)
        #expect(card["@type"] as? String == "MessageCard")
        #expect(card["themeColor"] as? String == "D32F2F")
        let section = (card["sections"] as! [[String: Any]])[0]
        #expect((section["images"] as! [[String: Any]])[0]["image"] as? String == n.evidenceURL)
        #expect((card["potentialAction"] as! [[String: Any]]).count == 2)

        let adaptive = try json(.teamsAdaptive)
        let att = (adaptive["attachments"] as! [[String: Any]])[0]
        #expect(att["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        let content = att["content"] as! [String: Any]
        #expect(content["type"] as? String == "AdaptiveCard")
        #expect((content["body"] as! [[String: Any]]).map { $0["type"] as! String } == ["TextBlock", "FactSet", "Image"])
        #expect((content["actions"] as! [[String: Any]])[0]["url"] as? String == n.evidenceURL)
    }
}

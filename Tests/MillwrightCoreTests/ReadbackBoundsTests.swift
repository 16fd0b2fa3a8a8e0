import Foundation
import MillwrightCore
import Testing

/// `CMMSReadback.bounded()`: whatever a CMMS answers, what is kept stays within `ReadbackLimits`,
/// and every cut is said.
@Suite struct ReadbackBoundsTests {
    @Test func longNotesAreCutAtACharacterAndMarked() {
        let long = String(repeating: "é", count: ReadbackLimits.noteBytes)  // two bytes each
        let r = CMMSReadback(notes: [ReadbackNote(text: long)]).bounded()
        let kept = try! #require(r.notes.first?.text)
        #expect(kept.hasSuffix(" […]"))
        #expect(kept.utf8.count <= ReadbackLimits.noteBytes + " […]".utf8.count)
        #expect(kept.dropLast(4).allSatisfy { $0 == "é" }, "no character split")
    }

    @Test func notesPastTheCountOrTheTotalAreDroppedAndSaid() {
        let many = CMMSReadback(notes: (0..<(ReadbackLimits.maxNotes + 10)).map { ReadbackNote(text: "note \($0)") }).bounded()
        #expect(many.notes.count == ReadbackLimits.maxNotes)
        #expect(many.refused.contains { $0.contains("first \(ReadbackLimits.maxNotes)") })

        let big = String(repeating: "x", count: ReadbackLimits.noteBytes)
        let heavy = CMMSReadback(notes: Array(repeating: ReadbackNote(text: big), count: 10)).bounded()
        #expect(heavy.notes.reduce(0) { $0 + $1.text.utf8.count } <= ReadbackLimits.notesBytes)
        #expect(heavy.refused.contains { $0.contains("\(ReadbackLimits.notesBytes) bytes") })
    }

    @Test func aPhotoOverTheBoundIsRefusedAndTheCodeAndNotesKept() {
        let photo = ReadbackPhoto(filename: "after.jpg", contentType: "image/jpeg", data: Data(count: ReadbackLimits.photoBytes + 1))
        let r = CMMSReadback(closureCode: "  DONE  ", notes: [ReadbackNote(text: "Replaced")], photo: photo).bounded()
        #expect(r.photo == nil)
        #expect(r.closureCode == "DONE")
        #expect(r.notes.map(\.text) == ["Replaced"])
        #expect(r.refused == ["after.jpg: \(ReadbackLimits.photoBytes + 1) bytes, more than \(ReadbackLimits.photoBytes)"])
    }

    @Test func blankCodesAndNotesAreNothing() {
        let r = CMMSReadback(closureCode: " \n", notes: [ReadbackNote(text: "   ")]).bounded()
        #expect(r.closureCode == nil)
        #expect(r.notes.isEmpty)
    }

    @Test func onlyJPEGAndPNGThatAreNotOurEvidenceAreCandidates() {
        #expect(CMMSReadback.isCandidatePhoto(filename: "after.jpg", contentType: "image/jpeg", reference: "MW-1"))
        #expect(CMMSReadback.isCandidatePhoto(filename: "after", contentType: "image/png; charset=binary", reference: "MW-1"))
        #expect(CMMSReadback.isCandidatePhoto(filename: "after.PNG", contentType: nil, reference: "MW-1"))
        #expect(!CMMSReadback.isCandidatePhoto(filename: "report.pdf", contentType: "application/pdf", reference: "MW-1"))
        #expect(!CMMSReadback.isCandidatePhoto(filename: "clip.gif", contentType: nil, reference: "MW-1"))
        #expect(!CMMSReadback.isCandidatePhoto(filename: "MW-1-evidence.jpg", contentType: "image/jpeg", reference: "MW-1"), "our own upload")
    }

    @Test func millwrightsOwnNotesAreToldApart() {
        #expect(CMMSReadback.isOwnNote("Millwright: 3 more detection(s) of this defect"))
        #expect(CMMSReadback.isOwnNote(VerdictNote.text(falsePositive: true, by: "ana", note: nil, signature: nil)))
        #expect(!CMMSReadback.isOwnNote("Replaced the Millwright-flagged belt"))
    }
}

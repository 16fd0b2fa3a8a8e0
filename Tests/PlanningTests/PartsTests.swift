import Foundation
import Testing
@testable import MillwrightCore

@Suite struct PartsTests {
    @Test func csvWithLineNumbers() throws {
        let items = try InventoryCSV.parse("""
        sku,description,on_hand,reserved,location
        PUL-500-HD,"Pulley, heavy duty",1,0,B-12
        BRG-6205,Bearing,10.0,,A-03

        """)
        #expect(items == [InventoryItem(sku: "PUL-500-HD", onHand: 1, reserved: 0, location: "B-12"),
                          InventoryItem(sku: "BRG-6205", onHand: 10, reserved: 0, location: "A-03")])
        #expect(throws: InventoryCSVError(line: 3, message: "on_hand \"x\" for sku B is not a whole number ≥ 0")) {
            try InventoryCSV.parse("sku,on_hand\nA,1\nB,x\n")
        }
        // The quoted field spans lines 3–4, so the duplicate is on line 5.
        #expect(throws: InventoryCSVError(line: 5, message: "sku A already on line 2")) {
            try InventoryCSV.parse("sku,on_hand\nA,1\n\"multi\nline\",2\nA,3\n")
        }
        #expect(throws: InventoryCSVError(line: 1, message: "missing column on_hand")) { try InventoryCSV.parse("sku,qty\n") }
        #expect(throws: InventoryCSVError(line: 2, message: "reserved \"-1\" for sku A is not a whole number ≥ 0")) {
            try InventoryCSV.parse("sku,on_hand,reserved\nA,1,-1\n")
        }
    }

    @Test func availabilityCheck() {
        let inv = [InventoryItem(sku: "PUL", onHand: 2, reserved: 1, location: "B-12"), InventoryItem(sku: "BRG", onHand: 3, reserved: 0)]
        let lines = Parts.check([PartNeed(sku: "PUL", qty: 1), PartNeed(sku: "BRG", qty: 2), PartNeed(sku: "BRG", qty: 2), PartNeed(sku: "NUT", qty: 1)], inventory: inv)
        #expect(lines.map(\.status) == [.available, .short(missing: 1), .unknownSKU])
        #expect(lines.map(\.text) == ["PUL x1: in stock (1 free, B-12)", "BRG x4: SHORT 1 (3 free)", "NUT x1: not in inventory"])
        let plan = Parts.plan(incident: "I-1", needs: [PartNeed(sku: "PUL", qty: 1), PartNeed(sku: "NUT", qty: 1)], inventory: inv)
        #expect(plan.toReserve == [PartNeed(sku: "PUL", qty: 1)])
        #expect(plan.shortfalls.count == 1)
    }

    @Test func reserveReleaseAndRetry() {
        var l = InventoryLedger([InventoryItem(sku: "PUL", onHand: 2), InventoryItem(sku: "BRG", onHand: 1)])
        #expect(l.reserve(incident: "I-1", [PartNeed(sku: "PUL", qty: 1), PartNeed(sku: "BRG", qty: 2)])
                == [.reserved(PartNeed(sku: "PUL", qty: 1)), .short(PartNeed(sku: "BRG", qty: 2), available: 1)])
        // A retry after a timeout does not reserve twice.
        #expect(l.reserve(incident: "I-1", PartNeed(sku: "PUL", qty: 1)) == .alreadyReserved(PartNeed(sku: "PUL", qty: 1)))
        #expect(l.items["PUL"]?.reserved == 1)
        // False positive: released, and releasing again changes nothing.
        #expect(l.release(incident: "I-1") == [PartNeed(sku: "PUL", qty: 1)])
        #expect(l.release(incident: "I-1") == [])
        #expect(l.items["PUL"]?.reserved == 0)
        #expect(l.reserve(incident: "I-2", PartNeed(sku: "PUL", qty: 2)) == .reserved(PartNeed(sku: "PUL", qty: 2)))
        #expect(l.consume(incident: "I-2") == [PartNeed(sku: "PUL", qty: 2)])
        #expect(l.items["PUL"] == InventoryItem(sku: "PUL", onHand: 0, reserved: 0))
    }

    /// Two incidents each run "check availability, then reserve" for the last unit. Every
    /// interleaving of their steps: exactly one gets it, the other is flagged short, even when
    /// both checks saw the unit as free.
    @Test func lastUnitUnderEveryInterleaving() {
        enum Step { case check(Int), reserve(Int) }
        // Interleavings of [c0, r0] and [c1, r1] preserving each incident's order.
        let orders: [[Step]] = [
            [.check(0), .reserve(0), .check(1), .reserve(1)],
            [.check(0), .check(1), .reserve(0), .reserve(1)],
            [.check(0), .check(1), .reserve(1), .reserve(0)],
            [.check(1), .check(0), .reserve(0), .reserve(1)],
            [.check(1), .check(0), .reserve(1), .reserve(0)],
            [.check(1), .reserve(1), .check(0), .reserve(0)],
        ]
        let need = PartNeed(sku: "PUL", qty: 1)
        for order in orders {
            var ledger = InventoryLedger([InventoryItem(sku: "PUL", onHand: 1)])
            var sawFree = [false, false]
            var outcome: [Int: ReservationOutcome] = [:]
            for step in order {
                switch step {
                case .check(let i):
                    sawFree[i] = Parts.check([need], inventory: Array(ledger.items.values)).first?.status == .available
                case .reserve(let i):
                    // The naive store would reserve because the check said so; ours asks the ledger.
                    outcome[i] = ledger.reserve(incident: "I-\(i)", need)
                }
            }
            let reserved = outcome.values.filter { if case .reserved = $0 { true } else { false } }.count
            let short = outcome.values.filter { if case .short = $0 { true } else { false } }.count
            #expect(reserved == 1 && short == 1, "\(order)")
            #expect(ledger.items["PUL"]?.reserved == 1)
            #expect(ledger.items["PUL"]!.reserved <= ledger.items["PUL"]!.onHand)
            _ = sawFree
        }
    }

    /// Many incidents racing concurrently for a few units through an actor (the store's
    /// serialisation point): stock is never over-reserved and exactly `onHand` succeed.
    @Test func concurrentRaceNeverOverReserves() async {
        actor Store {
            var ledger = InventoryLedger([InventoryItem(sku: "PUL", onHand: 3), InventoryItem(sku: "BRG", onHand: 5)])
            func reserve(_ i: Int) -> [ReservationOutcome] {
                ledger.reserve(incident: "I-\(i)", [PartNeed(sku: "PUL", qty: 1), PartNeed(sku: "BRG", qty: 2)])
            }
            func release(_ i: Int) { ledger.release(incident: "I-\(i)") }
        }
        let store = Store()
        let results = await withTaskGroup(of: (Int, [ReservationOutcome]).self) { g in
            for i in 0..<40 { g.addTask { (i, await store.reserve(i)) } }
            var r: [Int: [ReservationOutcome]] = [:]
            for await (i, o) in g { r[i] = o }
            return r
        }
        let pul = results.values.filter { if case .reserved = $0[0] { true } else { false } }.count
        let brg = results.values.filter { if case .reserved = $0[1] { true } else { false } }.count
        #expect(pul == 3)
        #expect(brg == 2)
        let ledger = await store.ledger
        #expect(ledger.items["PUL"]?.reserved == 3)
        #expect(ledger.items["BRG"]?.reserved == 4)
        // Releasing everything returns stock exactly.
        for i in 0..<40 { await store.release(i) }
        let after = await store.ledger
        #expect(after.items["PUL"]?.reserved == 0 && after.items["BRG"]?.reserved == 0)
    }
}

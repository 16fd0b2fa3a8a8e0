import Foundation
import Testing
import MillwrightTesting

/// The contract's guarantees, checked against the real binary, a real emulator process and
/// real HTTP: no loss across kill -9, no duplicate under concurrency, outage recovery. Each
/// runs on SQLite and on PostgreSQL (a fresh schema of the suite's server), the same assertions.
@Suite(.sharedPostgres) struct GuaranteeTests {
    func drained(_ api: API) async throws -> Bool {
        let s = try await api.get("/v1/stats").object
        let phases = (s["work_orders_by_phase"] as? [String: Int]) ?? [:]
        return ["pending", "waiting", "sending", "verifying"].allSatisfy { (phases[$0] ?? 0) == 0 }
    }

    func deliveredCount(_ api: API) async throws -> Int {
        let s = try await api.get("/v1/stats").object
        return ((s["work_orders_by_phase"] as? [String: Int]) ?? [:])["delivered"] ?? 0
    }

    @Test(.timeLimit(.minutes(5)), arguments: PlantStorage.allCases)
    func acknowledgedDetectionsSurviveKill9AndNoWorkOrderIsDoubled(_ storage: PlantStorage) async throws {
        let emu = try Plant.emulator(["--fail-rate", "0.2"])
        let cmms = API(base: try await emu.listening())
        let db = try storage.database()
        let plant = try db.plant(cmmsURL: cmms.base)
        var server = try plant.serve()
        var api = API(base: try await server.listening())

        // Four clients post batches of 10 until 1200 are acknowledged; the server is killed
        // with SIGKILL once 600 are in, mid-stream, while the others keep posting. Their
        // submissions share transactions (group commit): the counters read just before the
        // kill show it.
        let acked = AckedIds()
        let grouping = Box<(commits: Int, submissions: Int)?>(nil)
        let target = 1200
        let killAt = 600
        let apiBase = api.base
        let firstServer = server
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var n = 0
                    while acked.count < target {
                        n += 1
                        let batch = (0..<10).map { i -> [String: Any] in
                            // 40 defect classes × 2 cameras: many incidents, many repeats.
                            detection("c\(client)-\(n)-\(i)", camera: i % 2 == 0 ? "CAM-07" : "CAM-12", defect: "defect-\((n * 10 + i) % 40)")
                        }
                        guard let r = try? await API(base: apiBase).post("/v1/detections", json: batch, key: "ingest-key"), r.status == 202 else {
                            if acked.count >= killAt { return } // the server is gone: stop this client
                            continue
                        }
                        acked.add((r.object["accepted"] as? [String]) ?? [])
                        if acked.count >= killAt, acked.markKilled() {
                            let metrics = API(base: apiBase)
                            if let commits = try? await metrics.metricSum("millwright_ingest_commits_total"),
                               let submissions = try? await metrics.metricSum("millwright_ingest_submissions_total") {
                                grouping.value = (commits, submissions)
                            }
                            firstServer.kill9()
                        }
                    }
                }
            }
        }
        firstServer.kill9()
        let ackedIds = acked.all
        #expect(ackedIds.count >= killAt)
        let grouped = try #require(grouping.value)
        #expect(grouped.commits < grouped.submissions, "\(storage): no two submissions shared a transaction: \(grouped)")

        // Restart on the same database: every acknowledged detection is there.
        server = try plant.serve()
        api = API(base: try await server.listening())
        let stored = try db.rows(plant, "SELECT id FROM detections")
        let missing = ackedIds.subtracting(stored)
        #expect(missing.isEmpty, "\(storage): \(missing.count) acknowledged but lost, e.g. \(missing.prefix(5))")

        // The outbox drains after the restart, and the CMMS holds each work order once.
        try await API.eventually("outbox drained after restart", timeout: 120) { try await drained(api) }
        let refs = try await emulatorReferences(cmms)
        let dupes = Dictionary(grouping: refs, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(dupes.isEmpty, "\(storage): work orders created twice: \(Array(dupes))")
        let delivered = try await deliveredCount(api)
        #expect(delivered > 0, "\(storage): nothing delivered")
        #expect(Set(refs).count == delivered, "\(storage): the CMMS holds \(Set(refs).count) work orders, the gateway delivered \(delivered)")
        #expect(server.terminate() == 0)
        _ = emu.terminate()
    }

    @Test(.timeLimit(.minutes(3)), arguments: PlantStorage.allCases)
    func sixtyFourConcurrentPostsForOneNewKeyMakeOneWorkOrder(_ storage: PlantStorage) async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try storage.database().plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        let statuses = await withTaskGroup(of: Int.self) { group in
            for i in 0..<64 {
                group.addTask { (try? await api.post("/v1/detections", json: detection("race-\(i)", camera: "CAM-12", defect: "corrosion"), key: "ingest-key").status) ?? 0 }
            }
            var all: [Int] = []
            for await s in group { all.append(s) }
            return all
        }
        #expect(statuses.allSatisfy { $0 == 202 }, "\(storage): statuses \(statuses.sorted())")
        try await API.eventually("work order delivered") {
            let delivered = try await deliveredCount(api)
            let idle = try await drained(api)
            return delivered == 1 && idle
        }
        let incidents = (try await api.get("/v1/incidents").object["items"] as? [[String: Any]]) ?? []
        #expect(incidents.count == 1, "\(storage): \(incidents.count) incidents for one key")
        #expect(incidents.first?["detection_count"] as? Int == 64, "\(storage): \(incidents.first ?? [:])")
        #expect(try await emulatorReferences(cmms).count == 1, "\(storage): the CMMS holds more than one work order")
        _ = server.terminate(); _ = emu.terminate()
    }

    @Test(.timeLimit(.minutes(3)), arguments: PlantStorage.allCases)
    func workOrdersArriveExactlyOnceAfterACMMSOutage(_ storage: PlantStorage) async throws {
        // The outage counts from the emulator's start: long enough to outlast a gateway that is
        // slow to start on a busy machine, so the first attempts really meet it.
        let emu = try Plant.emulator(["--down-for", "45"])
        let cmms = API(base: try await emu.listening())
        let plant = try storage.database().plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        let batch = (0..<5).map { detection("outage-\($0)", camera: "CAM-12", defect: "kind-\($0)") }
        #expect(try await api.post("/v1/detections", json: batch, key: "ingest-key").status == 202)
        try await API.eventually("all five delivered after recovery", timeout: 120) { try await deliveredCount(api) == 5 }
        // The outage was real: every work order failed at least once before it landed, and
        // none was lost or doubled.
        let wos = (try await api.get("/v1/work-orders").object["items"] as? [[String: Any]]) ?? []
        #expect(wos.count == 5, "\(storage): \(wos.count) work orders")
        for wo in wos {
            let id = try #require(wo["id"] as? String)
            let attempts = (try await api.get("/v1/work-orders/\(id)").object["delivery_attempts"] as? [[String: Any]]) ?? []
            #expect(attempts.count >= 2, "\(storage): \(attempts)")
            #expect(attempts.first?["outcome"] as? String != "created", "\(storage): \(attempts)")
        }
        let refs = try await emulatorReferences(cmms)
        #expect(refs.count == 5, "\(storage): the CMMS holds \(refs)")
        #expect(Set(refs).count == 5, "\(storage): the CMMS holds \(refs)")
        _ = server.terminate(); _ = emu.terminate()
    }
}

/// Detection ids the server acknowledged, shared by the posting clients.
final class AckedIds: @unchecked Sendable {
    private let lock = NSLock()
    private var ids = Set<String>()
    private var killed = false
    var count: Int { lock.withLock { ids.count } }
    var all: Set<String> { lock.withLock { ids } }
    func add(_ new: [String]) { lock.withLock { ids.formUnion(new) } }
    /// True for exactly one caller.
    func markKilled() -> Bool { lock.withLock { if killed { return false }; killed = true; return true } }
}

func sqlite(_ db: String, _ sql: String) throws -> Set<String> {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = [db, sql]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
}

/// One value shared between a test and the tasks it starts.
final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

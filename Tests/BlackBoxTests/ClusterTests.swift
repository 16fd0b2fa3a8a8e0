import Foundation
import MillwrightTesting
import Testing

/// Several `serve` nodes on one PostgreSQL database, with no leader: the guarantees of one
/// node hold across them. Each test has its own schema (or its own server, when it restarts it).
@Suite(.sharedPostgres) struct ClusterTests {
    /// A sandbox CMMS, a plant on a fresh schema, and `nodes` gateways sharing it.
    struct Cluster {
        let emulator: Spawned
        let cmms: API
        let plant: Plant
        let schema: String
        let server: PostgresServer
        var nodes: [Spawned] = []
        var apis: [API] = []

        init(server: PostgresServer, emulatorArgs: [String] = [], lease: String = "2s") async throws {
            self.server = server
            emulator = try Plant.emulator(emulatorArgs)
            cmms = API(base: try await emulator.listening())
            schema = server.settings().schema
            // The lease is short so that a takeover happens within a test's time.
            plant = try PlantDatabase(storage: .postgres, section: "{ postgres: { url_env: MW_PG_URL, schema: \(schema), pool: 4 } }",
                                      environment: ["MW_PG_URL": server.url], postgres: (server, schema))
                .plant(cmmsURL: cmms.base, lease: lease)
        }

        mutating func start(_ count: Int, environment: [String: String] = [:]) async throws {
            for _ in 0..<count {
                let node = try plant.serve(name: "node-\(nodes.count)", environment: environment)
                apis.append(API(base: try await node.listening()))
                nodes.append(node)
            }
        }

        /// The first column of each row, from the plant's schema.
        func query(_ sql: String) throws -> Set<String> {
            try psql(server, "SET search_path TO \(schema); \(sql)")
        }

        func phases() throws -> [String: Int] {
            var out: [String: Int] = [:]
            for line in try query("SELECT phase || '|' || COUNT(*) FROM work_orders GROUP BY phase") {
                let parts = line.split(separator: "|")
                if parts.count == 2 { out[String(parts[0])] = Int(parts[1]) }
            }
            return out
        }

        func drained() throws -> Bool {
            let p = try phases()
            return ["pending", "waiting", "sending", "verifying"].allSatisfy { (p[$0] ?? 0) == 0 }
        }

        func stop() {
            for n in nodes { _ = n.terminate() }
            _ = emulator.terminate()
        }
    }

    @Test(.timeLimit(.minutes(3))) func sixtyFourPostsForOneKeyOverThreeNodesMakeOneWorkOrder() async throws {
        var cluster = try await Cluster(server: try SharedPostgres.current())
        defer { cluster.stop() }
        try await cluster.start(3)
        let apis = cluster.apis
        let statuses = await withTaskGroup(of: Int.self) { group in
            for i in 0..<64 {
                group.addTask {
                    (try? await apis[i % 3].post("/v1/detections", json: detection("race-\(i)", camera: "CAM-12", defect: "corrosion"), key: "ingest-key").status) ?? 0
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 202 }, "\(statuses)")
        try await API.eventually("one work order delivered and the outbox idle", timeout: 60) {
            try cluster.phases()["delivered"] == 1 && cluster.drained()
        }
        #expect(try cluster.query("SELECT detection_count FROM incidents") == ["64"], "one incident holds all 64")
        #expect(try await emulatorReferences(cluster.cmms).count == 1)
        // Every node sees the others.
        let listed = (try await apis[0].get("/v1/cluster").object["nodes"] as? [[String: Any]]) ?? []
        #expect(listed.count == 3, "\(listed)")
    }

    @Test(.timeLimit(.minutes(5))) func killingOneOfThreeNodesMidStreamLosesNothingAcknowledgedAndDoublesNoWorkOrder() async throws {
        var cluster = try await Cluster(server: try SharedPostgres.current(), emulatorArgs: ["--fail-rate", "0.2"])
        defer { cluster.stop() }
        try await cluster.start(3)
        let acked = AckedIds(), killed = KilledFlag()
        let (target, killAt) = (900, 450)
        let apis = cluster.apis, victim = cluster.nodes[0]
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<6 {
                group.addTask {
                    var n = 0
                    let deadline = Date().addingTimeInterval(180)
                    while acked.count < target, !Task.isCancelled, Date() < deadline {
                        n += 1
                        // A load balancer's view: a node that stops answering is skipped.
                        let node = killed.isSet ? 1 + (client + n) % 2 : client % 3
                        let batch = (0..<10).map { i in
                            detection("k\(client)-\(n)-\(i)", camera: i % 2 == 0 ? "CAM-07" : "CAM-12", defect: "defect-\((n * 10 + i) % 40)")
                        }
                        guard let r = try? await apis[node].post("/v1/detections", json: batch, key: "ingest-key"), r.status == 202 else { continue }
                        acked.add((r.object["accepted"] as? [String]) ?? [])
                        if acked.count >= killAt, acked.markKilled() { victim.kill9(); killed.set() }
                    }
                }
            }
        }
        let stored = Set(try cluster.query("SELECT id FROM detections"))
        let missing = acked.all.subtracting(stored)
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(5))")
        // The dead node's claims expire and the live nodes take them over, looking each up first.
        try await API.eventually("outbox drained by the surviving nodes", timeout: 180) { try cluster.drained() }
        let refs = try await emulatorReferences(cluster.cmms)
        let dupes = Dictionary(grouping: refs, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(dupes.isEmpty, "work orders created twice: \(Array(dupes.prefix(5)))")
        #expect(Set(refs).count == (try cluster.phases()["delivered"] ?? 0))
    }

    /// A node frozen (SIGSTOP: a VM pause, a long GC) after the CMMS created the work order
    /// and before it recorded that: another node takes the expired lease over, finds the work
    /// order by lookup, and the frozen node's late outcome is refused when it wakes.
    @Test(.timeLimit(.minutes(3))) func aNodePausedPastItsLeaseMakesNoDuplicateAndRecordsNoStaleOutcome() async throws {
        var cluster = try await Cluster(server: try SharedPostgres.current())
        defer { cluster.stop() }
        try await cluster.start(1, environment: ["MILLWRIGHT_TEST_PAUSE": "after-cmms", "MILLWRIGHT_TEST_CRASH_MATCH": "CAM-12"])
        let frozen = cluster.nodes[0]
        #expect(try await cluster.apis[0].post("/v1/detections", json: detection("pause-1", camera: "CAM-12", defect: "corrosion"), key: "ingest-key").status == 202)
        _ = try await frozen.waitFor("MILLWRIGHT_TEST_PAUSE: stopping at after-cmms", timeout: 60)
        #expect(try await emulatorReferences(cluster.cmms).count == 1, "the CMMS created it before the pause")
        try await cluster.start(1)
        try await API.eventually("the live node took the work order over and found it", timeout: 60) {
            try cluster.phases()["delivered"] == 1
        }
        kill(frozen.process.processIdentifier, SIGCONT)
        _ = try await frozen.waitFor("delivery outcome not recorded", timeout: 60)
        #expect(try cluster.query("SELECT COUNT(*) FROM audit WHERE kind = 'delivery.stale_outcome'") == ["1"])
        #expect(try cluster.query("SELECT outcome FROM delivery_attempts ORDER BY id") == ["found_existing"],
                "only the live node's lookup is recorded")
        #expect(try await emulatorReferences(cluster.cmms).count == 1, "no second create")
    }

    /// A node stopped after claiming a work order but before calling the CMMS (rendering that
    /// outlasts the lease looks the same) wakes after another node took it over and created
    /// it: it must send nothing, or the CMMS holds two records of one work order.
    @Test(.timeLimit(.minutes(3))) func aNodePausedBeforeTheCMMSCallSendsNothingOnceItsClaimWasTakenOver() async throws {
        var cluster = try await Cluster(server: try SharedPostgres.current())
        defer { cluster.stop() }
        try await cluster.start(1, environment: ["MILLWRIGHT_TEST_PAUSE": "before-cmms", "MILLWRIGHT_TEST_CRASH_MATCH": "CAM-12"])
        let frozen = cluster.nodes[0]
        #expect(try await cluster.apis[0].post("/v1/detections", json: detection("pause-2", camera: "CAM-12", defect: "corrosion"), key: "ingest-key").status == 202)
        _ = try await frozen.waitFor("MILLWRIGHT_TEST_PAUSE: stopping at before-cmms", timeout: 60)
        #expect(try await emulatorReferences(cluster.cmms).isEmpty, "nothing sent before the pause")
        try await cluster.start(1)
        try await API.eventually("the live node took the work order over and delivered it", timeout: 60) {
            try cluster.phases()["delivered"] == 1
        }
        kill(frozen.process.processIdentifier, SIGCONT)
        _ = try await frozen.waitFor("the claim was taken over before the CMMS call", timeout: 60)
        #expect(try await emulatorReferences(cluster.cmms).count == 1, "no second create")
    }

    /// The database restarts in the middle of a stream: requests meanwhile get 503 with
    /// Retry-After (never a 500 or a hang), nothing acknowledged is lost, and the node
    /// recovers by itself.
    @Test(.timeLimit(.minutes(5)))
    func aDatabaseRestartMidStreamLosesNothingAcknowledged() async throws {
        let server = try await PostgresServer.start()
        var cluster = try await Cluster(server: server)
        // The nodes first, then their database: a node is stopped while it can still record.
        defer {
            cluster.stop()
            Task { await server.cleanUp() }
        }
        try await cluster.start(2)
        let acked = AckedIds()
        let statuses = StatusCounts()
        let apis = cluster.apis, nodes = cluster.nodes
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    var n = 0
                    // A deadline as well: a node that died would otherwise leave its clients spinning.
                    let deadline = Date().addingTimeInterval(120)
                    while acked.count < 600, !Task.isCancelled, Date() < deadline {
                        n += 1
                        let batch = (0..<10).map { i in detection("r\(client)-\(n)-\(i)", camera: "CAM-07", defect: "defect-\(i)") }
                        let r: API.Reply?
                        do { r = try await apis[client % 2].post("/v1/detections", json: batch, key: "ingest-key") } catch {
                            r = nil
                            Issue.record("no answer from node \(client % 2): \(error)\n\(nodes[client % 2].text.suffix(3000))")
                        }
                        statuses.add(r?.status ?? 0, retryAfter: r?.headers.first { $0.0.lowercased() == "retry-after" }?.1)
                        if r?.status == 202 { acked.add((r?.object["accepted"] as? [String]) ?? []) }
                    }
                }
            }
            group.addTask {
                let deadline = Date().addingTimeInterval(120)
                while acked.count < 200, !Task.isCancelled, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
                do { try await server.restart() } catch { Issue.record("the database did not restart: \(error)\n\(server.log.suffix(2000))") }
            }
        }
        let seen = statuses.all
        for node in cluster.nodes where !node.process.isRunning {
            let text = node.text, crash = text.range(of: "Fatal error") ?? text.range(of: "*** ")
            Issue.record("\(node.name) died with the database away: \(crash.map { String(text[$0.lowerBound...].prefix(3000)) } ?? String(text.suffix(3000)))")
        }
        #expect(seen.keys.allSatisfy { [202, 503].contains($0) }, "only 202 or 503: \(seen)")
        #expect((seen[503] ?? 0) > 0, "the restart was felt: \(seen)")
        #expect(statuses.every503HadRetryAfter)
        let stored = Set(try cluster.query("SELECT id FROM detections"))
        #expect(acked.all.subtracting(stored).isEmpty, "acknowledged but lost")
        try await API.eventually("both nodes ready again", timeout: 60) {
            for api in apis where try await api.get("/readyz").status != 200 { return false }
            return true
        }
    }
}

/// Whether the victim node is gone, for the clients choosing a node.
final class KilledFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Response statuses seen by the clients.
final class StatusCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Int: Int] = [:]
    private var missingRetryAfter = 0
    func add(_ status: Int, retryAfter: String?) {
        lock.withLock {
            counts[status, default: 0] += 1
            if status == 503, retryAfter == nil { missingRetryAfter += 1 }
        }
    }
    var all: [Int: Int] { lock.withLock { counts } }
    var every503HadRetryAfter: Bool { lock.withLock { missingRetryAfter == 0 } }
}

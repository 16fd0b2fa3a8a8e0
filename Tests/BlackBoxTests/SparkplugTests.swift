import Foundation
import MillwrightTesting
import Testing

/// The UNS topic template and the Sparkplug B edge node against a real mosquitto, with
/// pysparkplug (an independent implementation, PyPI) as the primary host application:
/// Tests/Fixtures/sparkplug/sparkplug_host.py.
@Suite struct SparkplugTests {
    static let host = PackagePaths.fixtures.appendingPathComponent("sparkplug/sparkplug_host.py").path
    /// The python3 that scripts/install-deps.sh installed pysparkplug for: the first on PATH
    /// (`MILLWRIGHT_PYTHON` overrides it, as for the Pillow tests).
    static var python: String {
        if let explicit = ProcessInfo.processInfo.environment["MILLWRIGHT_PYTHON"] { return explicit }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
    }

    /// A plant whose two cameras sit on line-2 (cells C2, C3) of enterprise acme, with `mqtt`.
    static func plant(emulator: Spawned, mqtt: String, lineOfSecondCamera: String = "C3") async throws -> Plant {
        let plant = try Plant(cmmsURL: API(base: try await emulator.listening()).base)
        var config = try String(contentsOfFile: plant.configPath, encoding: .utf8)
        let cameras = """
            - { camera: CAM-1, asset: "10004711", area: line-2, line: C2, cmms: sandbox, criticality: A }
            - { camera: CAM-2, asset: "10004720", area: line-2\(lineOfSecondCamera.isEmpty ? "" : ", line: \(lineOfSecondCamera)"), cmms: sandbox }
        """
        let old = config.components(separatedBy: "\n").filter { $0.contains("- { camera: CAM-") }
        #expect(old.count == 3)
        config = config.replacingOccurrences(of: old.joined(separator: "\n"), with: cameras)
        config += "\nsite: { name: plant-1, enterprise: acme }\n" + mqtt
        try config.write(toFile: plant.configPath, atomically: true, encoding: .utf8)
        return plant
    }

    /// A broker for one test, stopped however the test ends.
    static func withBroker(_ body: (Mosquitto) async throws -> Void) async throws {
        let broker = try await Mosquitto.start()
        do { try await body(broker) } catch {
            await broker.cleanUp()
            throw error
        }
        await broker.cleanUp()
    }

    @Test(.timeLimit(.minutes(3))) func aDetectionIsPublishedUnderTheUNSTemplate() async throws {
        try await Self.withBroker { broker in
            let emu = try Plant.emulator()
            defer { _ = emu.terminate() }
            let plant = try await Self.plant(emulator: emu, mqtt: """
            mqtt:
              broker: mqtt://127.0.0.1:\(broker.port)
              client_id: millwright-uns
              publish:
                topic_template: "{enterprise}/{site}/{area}/{line}/{asset}/vision/{camera}"

            """)
            let everything = try Spawned.external(findExecutable("mosquitto_sub") ?? "mosquitto_sub",
                                                  ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "#", "-v", "-q", "1"])
            defer { everything.kill9() }
            let server = try plant.serve()
            defer { _ = server.terminate() }
            let api = API(base: try await server.listening())
            // Every configured camera's retained state is there from the start.
            _ = try await everything.waitFor("acme/plant-1/line-2/C3/10004720/vision/CAM-2/state {", timeout: 30)

            let posted = try await api.post("/v1/detections", json: detection("uns-1", camera: "CAM-1", confidence: 0.93), key: "ingest-key")
            #expect(posted.status == 202)
            let line = try await everything.waitFor("/detections {", timeout: 30)
            #expect(line.hasPrefix("acme/plant-1/line-2/C2/10004711/vision/CAM-1/detections {"), "\(line)")
            #expect(line.contains("\"detection_id\":\"uns-1\""))
            _ = try await everything.waitFor("acme/plant-1/line-2/C2/10004711/vision/CAM-1/incidents {", timeout: 30)
            _ = try await everything.waitFor("acme/plant-1/line-2/C2/10004711/vision/CAM-1/work-orders {", timeout: 60)

            // The retained state a dashboard reads on subscribing: online, the reject, one open incident.
            try await API.eventually("the camera's state shows the open incident") {
                let retained = try await Self.retained(broker, "acme/plant-1/line-2/C2/10004711/vision/CAM-1/state")
                guard let state = try JSONSerialization.jsonObject(with: Data(retained.utf8)) as? [String: Any] else { return false }
                return state["online"] as? Bool == true && state["reject"] as? Bool == true && state["open_incidents"] as? Int == 1
                    && state["severity"] as? Int != nil && state["last_detection_at"] as? String != nil
            }
            // Nothing went to Millwright's own tree, and no topic has an empty level.
            #expect(!everything.text.contains("millwright/plant-1/CAM-1"))
            #expect(!everything.text.split(separator: "\n").contains { $0.split(separator: " ").first?.contains("//") == true })
        }
    }

    @Test(.timeLimit(.minutes(2))) func aPlaceholderACameraCannotFillIsRefusedAtStart() async throws {
        let emu = try Plant.emulator()
        defer { _ = emu.terminate() }
        let plant = try await Self.plant(emulator: emu, mqtt: """
        mqtt:
          broker: mqtt://127.0.0.1:1
          publish: { topic_template: "{enterprise}/{site}/{area}/{line}/{asset}/vision/{camera}" }

        """, lineOfSecondCamera: "")
        let (status, output) = try await Spawned.run(["serve", "--config", plant.configPath], environment: Plant.keys)
        #expect(status == 2)
        let config = try String(contentsOfFile: plant.configPath, encoding: .utf8).components(separatedBy: "\n")
        let cameraLine = try #require(config.firstIndex { $0.contains("camera: CAM-2") }) + 1
        #expect(output.contains("\(plant.configPath):\(cameraLine): assets.cameras[1].line: camera CAM-2 has no line for {line}"), "\(output)")
    }

    /// What the broker holds retained under `filter`: a subscriber that leaves after a second
    /// (retained messages arrive at once on subscribing).
    static func retained(_ broker: Mosquitto, _ filter: String) async throws -> String {
        let out = broker.directory.appendingPathComponent("retained-\(UUID().uuidString).out").path
        let p = try ChildProcess(findExecutable("mosquitto_sub") ?? "mosquitto_sub",
                                 ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", filter, "--retained-only", "-W", "1"],
                                 stdout: out, stderr: out + ".err")
        _ = try await p.exitStatus(within: 15, "mosquitto_sub \(filter)", stderr: out + ".err")
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }

    // MARK: Sparkplug

    /// The host's output, one decoded message per line.
    static func messages(_ host: Spawned) -> [[String: Any]] {
        host.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The first message at or after `from` matching `type` (and `device`), waiting for it.
    static func next(_ host: Spawned, _ type: String, device: String? = nil, from: Int, timeout: Double = 30,
                     where extra: ([String: Any]) -> Bool = { _ in true }) async throws -> (index: Int, message: [String: Any]) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let all = messages(host)
            for i in from..<max(from, all.count) {
                let m = all[i]
                if m["type"] as? String == type, device == nil || m["device"] as? String == device, extra(m) { return (i, m) }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError.timeout("the host never saw \(type) \(device ?? "") after message \(from)", host.text)
    }

    static func metrics(_ m: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for x in (m["metrics"] as? [[String: Any]]) ?? [] { if let n = x["name"] as? String { out[n] = x } }
        return out
    }

    /// One command from the primary host. Each is idempotent where the test looks (it waits for
    /// the first answer after its mark), so a command that hangs or fails is run once more, with
    /// what went wrong printed: a CI run once saw one not finish in 30 s on a loaded machine. The
    /// command talks to the broker only, so a second try cannot hide a fault of the gateway's.
    static func hostCommand(_ args: [String]) async throws {
        let what = "sparkplug_host.py \(args.joined(separator: " "))"
        for attempt in 1...2 {
            let errors = FileManager.default.temporaryDirectory.appendingPathComponent("spb-host-\(UUID().uuidString).err").path
            defer { try? FileManager.default.removeItem(atPath: errors) }
            let p = try ChildProcess(python, [host] + args, stderr: errors)
            let status: Int32
            do {
                status = try await p.exitStatus(within: 30, what, stderr: errors)
            } catch where attempt == 1 {
                print("\(what) hung, running it again: \(error)")
                continue
            }
            if status == 0 { return }
            let why = "\(what) exited with \(status): \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")"
            guard attempt == 1 else { throw TestFailure(why) }
            print(why + "; running it again")
        }
    }

    @Test(.timeLimit(.minutes(4))) func theEdgeNodeTalksToAnIndependentPrimaryHost() async throws {
        try await Self.withBroker { broker in
            let emu = try Plant.emulator()
            defer { _ = emu.terminate() }
            let plant = try await Self.plant(emulator: emu, mqtt: """
            mqtt:
              broker: mqtt://127.0.0.1:\(broker.port)
              client_id: millwright-spb
              sparkplug: { group_id: plant-1, edge_node_id: millwright, primary_host_id: scada, allow_commands: true }

            """)
            var server = try plant.serve(environment: ["MILLWRIGHT_LOG_LEVEL": "notice"])
            defer { _ = server.terminate() }
            let api = API(base: try await server.listening())
            _ = try await server.waitFor("Sparkplug edge node connected", timeout: 30)

            // The node waits for the primary host: connected before the host started, it is born only
            // on the host's STATE online (born at once, the host would have missed the NBIRTH).
            let host = try Spawned.external(Self.python, [Self.host, "listen", "\(broker.port)", "plant-1", "scada"])
            defer { host.kill9() }
            let (birthAt, nbirth) = try await Self.next(host, "NBIRTH", from: 0)
            #expect(nbirth["seq"] as? Int == 0 && nbirth["qos"] as? Int == 0 && nbirth["retain"] as? Bool == false)
            let node = Self.metrics(nbirth)
            let bdSeq = try #require(node["bdSeq"]?["value"] as? Int)
            #expect(node["bdSeq"]?["datatype"] as? String == "INT64")
            #expect(node["Node Control/Rebirth"]?["datatype"] as? String == "BOOLEAN" && node["Node Control/Rebirth"]?["value"] as? Bool == false)
            #expect(node["Gateway/Version"]?["datatype"] as? String == "STRING")
            #expect(node["Counts/Detections"]?["datatype"] as? String == "UINT64")
            #expect(Self.messages(host)[..<birthAt].allSatisfy { $0["type"] as? String == "HOST_READY" })

            // One DBIRTH per camera with every metric's type and an alias unique on the node.
            let (_, cam1Birth) = try await Self.next(host, "DBIRTH", device: "CAM-1", from: birthAt)
            let (cam2At, cam2Birth) = try await Self.next(host, "DBIRTH", device: "CAM-2", from: birthAt)
            let expected = ["Inspection/LastDefectClass": "STRING", "Inspection/LastConfidence": "DOUBLE", "Inspection/RejectPart": "BOOLEAN",
                            "Inspection/LastDetectionTime": "DATETIME", "Incidents/Open": "UINT32", "Incidents/Severity": "INT32",
                            "WorkOrders/Pending": "UINT32", "Camera/Online": "BOOLEAN"]
            for birth in [cam1Birth, cam2Birth] {
                let ms = Self.metrics(birth)
                #expect(ms.mapValues { $0["datatype"] as? String ?? "" } == expected)
                #expect(ms["Camera/Online"]?["value"] as? Bool == false)
            }
            let aliases = [nbirth, cam1Birth, cam2Birth].flatMap { Self.metrics($0).values.compactMap { $0["alias"] as? Int } }
            #expect(aliases.count == 7 + 16 && Set(aliases).count == aliases.count)

            // A detection: DDATA with its values (by alias; the host resolved the names from the
            // DBIRTH), then the incident it opened; every message's seq follows the one before.
            let posted = try await api.post("/v1/detections", json: detection("spb-1", camera: "CAM-1", confidence: 0.93), key: "ingest-key")
            #expect(posted.status == 202)
            let (dataAt, ddata) = try await Self.next(host, "DDATA", device: "CAM-1", from: cam2At)
            let values = Self.metrics(ddata)
            #expect(values["Inspection/LastDefectClass"]?["value"] as? String == "crack")
            #expect(values["Inspection/LastConfidence"]?["value"] as? Double == 0.93)
            #expect(values["Inspection/RejectPart"]?["value"] as? Bool == true)
            #expect(values["Camera/Online"]?["value"] as? Bool == true)
            #expect(values["Inspection/LastDetectionTime"]?["datatype"] as? String == "DATETIME")
            _ = try await Self.next(host, "DDATA", device: "CAM-1", from: dataAt + 1) { Self.metrics($0)["Incidents/Open"]?["value"] as? Int == 1 }
            let sequenced = Self.messages(host)[birthAt...].filter { ["NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"].contains($0["type"] as? String ?? "") }
            let seqs = sequenced.compactMap { $0["seq"] as? Int }
            #expect(seqs.count == sequenced.count && seqs == Array(0..<seqs.count).map { $0 % 256 }, "\(seqs)")

            // NCMD Node Control/Rebirth: NBIRTH (seq 0, same bdSeq) and every DBIRTH again.
            let beforeRebirth = Self.messages(host).count
            try await Self.hostCommand(["rebirth", "\(broker.port)", "plant-1", "millwright"])
            let (rebirthAt, reborn) = try await Self.next(host, "NBIRTH", from: beforeRebirth)
            #expect(reborn["seq"] as? Int == 0 && Self.metrics(reborn)["bdSeq"]?["value"] as? Int == bdSeq)
            let (_, cam1Again) = try await Self.next(host, "DBIRTH", device: "CAM-1", from: rebirthAt)
            _ = try await Self.next(host, "DBIRTH", device: "CAM-2", from: rebirthAt)
            #expect(Self.metrics(cam1Again)["Inspection/RejectPart"]?["value"] as? Bool == true)

            // DCMD resets the reject signal (allow_commands is on), and the write is audited.
            let beforeReset = Self.messages(host).count
            try await Self.hostCommand(["dcmd", "\(broker.port)", "plant-1", "millwright", "CAM-1", "Inspection/RejectPart", "false"])
            _ = try await Self.next(host, "DDATA", device: "CAM-1", from: beforeReset) { Self.metrics($0)["Inspection/RejectPart"]?["value"] as? Bool == false }
            try await API.eventually("the reset audited") {
                try sqlite(plant.dbPath, "SELECT subject FROM audit WHERE kind = 'sparkplug.reject_reset'") == ["CAM-1"]
            }

            // The primary host goes offline: NDEATH, and a new connection (the next bdSeq) that is
            // born again only when the host is back.
            let beforeOffline = Self.messages(host).count
            try await Self.hostCommand(["state", "\(broker.port)", "scada", "offline"])
            let (offlineAt, hostGone) = try await Self.next(host, "NDEATH", from: beforeOffline)
            #expect(Self.metrics(hostGone)["bdSeq"]?["value"] as? Int == bdSeq)
            try await Self.hostCommand(["state", "\(broker.port)", "scada", "online"])
            let (_, back) = try await Self.next(host, "NBIRTH", from: offlineAt)
            #expect(Self.metrics(back)["bdSeq"]?["value"] as? Int == (bdSeq + 1) % 256)
            _ = try await Self.next(host, "DBIRTH", device: "CAM-2", from: offlineAt)

            // kill -9: the broker delivers the will, an NDEATH with this connection's bdSeq (QoS 1).
            let beforeKill = Self.messages(host).count
            server.kill9()
            let (_, death) = try await Self.next(host, "NDEATH", from: beforeKill)
            #expect(Self.metrics(death)["bdSeq"]?["value"] as? Int == (bdSeq + 1) % 256)
            #expect(death["qos"] as? Int == 1 && death["retain"] as? Bool == false)

            // A restart continues the sequence from the data folder: the next bdSeq is one more.
            let beforeRestart = Self.messages(host).count
            server = try plant.serve()
            _ = try await server.listening()
            let (_, second) = try await Self.next(host, "NBIRTH", from: beforeRestart)
            #expect(Self.metrics(second)["bdSeq"]?["value"] as? Int == (bdSeq + 2) % 256)
            _ = try await Self.next(host, "DBIRTH", device: "CAM-1", from: beforeRestart)

            // A graceful stop says NDEATH itself, with the same bdSeq.
            let beforeStop = Self.messages(host).count
            #expect(server.terminate() == 0)
            let (_, last) = try await Self.next(host, "NDEATH", from: beforeStop)
            #expect(Self.metrics(last)["bdSeq"]?["value"] as? Int == (bdSeq + 2) % 256)
            // Only the host's STATE is ever retained: nothing under spBv1.0/plant-1.
            #expect(try await Self.retained(broker, "spBv1.0/plant-1/#").isEmpty)
            #expect(try await Self.retained(broker, "spBv1.0/STATE/scada").contains("\"online\": true"))
        }
    }
}

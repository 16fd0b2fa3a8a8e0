import AsyncHTTPClient
import Foundation
import MillwrightTesting
import NIOCore
import NIOHTTP1
import Testing

/// One Server-Sent Event as the stream carried it.
struct SSEEvent: Sendable {
    var id: String?
    var name: String
    var data: String
}

/// A `GET /v1/events` stream read in the background; events arrive on `events`.
final class EventStreamClient: Sendable {
    let status: Int
    let events: AsyncThrowingStream<SSEEvent, Error>
    private let reader: Task<Void, Never>

    static func open(_ base: String, key: String, lastEventId: String? = nil) async throws -> EventStreamClient {
        var req = HTTPClientRequest(url: base + "/v1/events")
        req.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let lastEventId { req.headers.add(name: "Last-Event-ID", value: lastEventId) }
        let resp = try await API.http.execute(req, timeout: .seconds(120))
        return EventStreamClient(status: Int(resp.status.code), body: resp.body)
    }

    private init(status: Int, body: HTTPClientResponse.Body) {
        self.status = status
        let (events, continuation) = AsyncThrowingStream.makeStream(of: SSEEvent.self)
        self.events = events
        reader = Task {
            var text = ""
            do {
                for try await chunk in body {
                    text += String(buffer: chunk)
                    while let end = text.range(of: "\n\n") {
                        let block = String(text[..<end.lowerBound])
                        text = String(text[end.upperBound...])
                        var e = SSEEvent(id: nil, name: "", data: "")
                        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                            if line.hasPrefix("id: ") { e.id = String(line.dropFirst(4)) }
                            if line.hasPrefix("event: ") { e.name = String(line.dropFirst(7)) }
                            if line.hasPrefix("data: ") { e.data = String(line.dropFirst(6)) }
                            if line.hasPrefix(":") { e.name = "comment" }
                        }
                        if !e.name.isEmpty { continuation.yield(e) }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// The events up to and including the first that satisfies `match`, within `timeout` seconds.
    func until(_ what: String, timeout: Double = 20, where match: @escaping @Sendable (SSEEvent) -> Bool) async throws -> [SSEEvent] {
        let events = self.events
        return try await withTimeout(timeout, what) {
            var seen: [SSEEvent] = []
            for try await e in events {
                seen.append(e)
                if match(e) { return seen }
            }
            throw TestFailure("the stream ended before \(what)")
        }
    }

    func first(_ what: String, timeout: Double = 20, where match: @escaping @Sendable (SSEEvent) -> Bool) async throws -> SSEEvent {
        try await until(what, timeout: timeout, where: match).last!
    }

    func close() { reader.cancel() }
    deinit { reader.cancel() }
}

@Suite struct EventStreamTests {
    @Test(.timeLimit(.minutes(3))) func incidentsArriveWithIdsAndAReconnectResumesOrResets() async throws {
        let emu = try Plant.emulator()
        let cmms = API(base: try await emu.listening())
        let plant = try Plant(cmmsURL: cmms.base)
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate(); _ = server.terminate() }

        #expect(try await EventStreamClient.open(api.base, key: "ingest-key").status == 403)
        let stream = try await EventStreamClient.open(api.base, key: "viewer-key")
        #expect(stream.status == 200)

        let posted = try await api.post("/v1/detections", json: detection("sse-1", camera: "CAM-12", defect: "corrosion"), key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        let upToIncident = try await stream.until("the incident event") { $0.name == "incident" && $0.data.contains(incident) }
        #expect(upToIncident.last!.data.contains("\"state\":\"open\""))
        // The detection is counted before its incident opens; the summary says so.
        #expect(upToIncident.contains { $0.name == "detections" && $0.data.contains("\"confirmed\":1") }, "\(upToIncident)")
        let delivered = try await stream.first("the work order event") { $0.name == "work_order" && $0.data.contains(incident) }
        let lastSeen = try #require(delivered.id)
        stream.close()

        // Missed while away, then resumed from the last id: no reset, the new incident comes.
        let again = try await api.post("/v1/detections", json: detection("sse-2", camera: "CAM-07", defect: "crack"), key: "ingest-key")
        let second = try #require((again.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        let resumed = try await EventStreamClient.open(api.base, key: "viewer-key", lastEventId: lastSeen)
        let next = try await resumed.first("the missed incident or a reset") { $0.name == "incident" || $0.name == "reset" }
        #expect(next.name == "incident" && next.data.contains(second), "\(next)")
        resumed.close()

        // An id this run never gave (another run, another node): reset first, so the page reloads.
        let stranger = try await EventStreamClient.open(api.base, key: "viewer-key", lastEventId: "0123abcd.5")
        let first = try await stranger.first("the first event") { $0.name != "comment" }
        #expect(first.name == "reset")
        #expect(first.id?.hasPrefix(lastSeen.split(separator: ".")[0] + ".") == true)
        stranger.close()
    }

    @Test(.timeLimit(.minutes(3))) func atMost32StreamsAndALeavingClientGivesItsPlaceBack() async throws {
        let emu = try Plant.emulator()
        let plant = try Plant(cmmsURL: try await emu.listening())
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate(); _ = server.terminate() }
        let port = try #require(URLComponents(string: api.base)?.port)
        // Each connection asks at once (an idle one would meet the server's header timeout) and
        // holds its stream open while the next one connects.
        func hold(_ n: Int, then body: () async throws -> Void) async throws {
            guard n > 0 else { return try await body() }
            try await RawConnection.with(port: port) { stream in
                try await stream.send("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer viewer-key\r\n\r\n")
                #expect(try await stream.response().status == 200)
                try await hold(n - 1, then: body)
            }
        }
        try await hold(32) {
            let refused = try await api.get("/v1/events", key: "viewer-key")
            #expect(refused.status == 503)
            #expect((refused.object["type"] as? String)?.hasSuffix("/too-many-streams") == true)
            #expect(refused.headers.contains { $0.0.lowercased() == "retry-after" && $0.1 == "5" })
        }
        // The clients are gone; the next event written to their streams fails and frees their places.
        _ = try await api.post("/v1/detections", json: detection("after-streams", camera: "CAM-12", defect: "corrosion"), key: "ingest-key")
        try await API.eventually("a place for a new stream") {
            let stream = try await EventStreamClient.open(api.base, key: "viewer-key")
            defer { stream.close() }
            return stream.status == 200
        }
    }

    @Test(.timeLimit(.minutes(2))) func anOpenStreamDoesNotHoldUpAGracefulShutdown() async throws {
        let emu = try Plant.emulator()
        let plant = try Plant(cmmsURL: try await emu.listening())
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate() }
        let stream = try await EventStreamClient.open(api.base, key: "viewer-key")
        #expect(stream.status == 200)
        let started = Date()
        // The stop gives up on services after 10 s; a stream that held the drain would take that long.
        #expect(server.terminate() == 0)
        #expect(Date().timeIntervalSince(started) < 8, "SIGTERM took \(Date().timeIntervalSince(started)) s with a stream open")
        let events = stream.events
        let ended = try await withTimeout(10, "the stream to end") {
            do { for try await _ in events {} } catch {}
            return true
        }
        #expect(ended)
    }
}

import AsyncHTTPClient
import Foundation
import Gateway
import Logging
import MillwrightCore
import NIOCore
import OPCUA
import ServiceLifecycle
import Store

/// `millwright bench --transport opcua`: the gateway's OPC UA server with one subscriber, an
/// independent client (python asyncua, as a plant's own tooling would be), subscribed to
/// ResultReadyEventType on the Server object while the REST load of the other benches runs.
/// Reports events delivered per second and detection → event latency.
extension BenchRunner {
    /// The subscriber, written to the bench's temporary folder: python3 with asyncua. It writes
    /// one line per event (`ResultId CreationTime received`, Unix seconds) to OUT, and exits
    /// once no event has come for `idle` seconds after the first one, or after `limit` seconds.
    static let opcuaSubscriber = #"""
    import asyncio, sys, time
    from asyncua import Client, ua

    url, out_path, ready_path, idle, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])

    class Handler:
        def __init__(self, out):
            self.out, self.last = out, None
        def event_notification(self, event):
            now = time.time()
            created = event.CreationTime.timestamp() if getattr(event, "CreationTime", None) else 0.0
            self.out.write(f"{event.ResultId} {created:.3f} {now:.6f}\n")
            self.last = time.monotonic()

    async def main():
        with open(out_path, "w") as out:
            async with Client(url, timeout=60) as client:
                mv = await client.get_namespace_index("http://opcfoundation.org/UA/MachineVision")
                handler = Handler(out)
                sub = await client.create_subscription(10, handler)
                await sub.subscribe_events(ua.ObjectIds.Server, client.get_node(ua.NodeId(1024, mv)), queuesize=10000)
                open(ready_path, "w").close()
                started = time.monotonic()
                while time.monotonic() - started < limit:
                    await asyncio.sleep(0.2)
                    if handler.last is not None and time.monotonic() - handler.last > idle:
                        break
                await sub.delete()

    asyncio.run(main())
    """#

    func opcuaLoad(gateway: Gateway, url: String, http: HTTPClient, store: Store, dir: String) async throws -> [String: Any] {
        var settings = OPCUASettings()
        settings.port = 0
        settings.allowAnonymous = true
        let port = BoundPort()
        let bridge = try OPCUABridge(gateway: gateway, settings: settings, nodeSets: try NodeSetFiles.locate(),
                                     onListening: { port.set($0) })
        let bridgeGroup = ServiceGroup(configuration: .init(services: [bridge], logger: Logger(label: "millwright.bench")))
        let bridgeTask = Task { try await bridgeGroup.run() }
        defer { bridgeTask.cancel() }
        let endpoint = "opc.tcp://127.0.0.1:\(await port.value)"

        let script = dir + "/opcua_subscriber.py", out = dir + "/events.txt", ready = dir + "/subscribed"
        try Self.opcuaSubscriber.write(toFile: script, atomically: true, encoding: .utf8)
        let cleanup = BenchCleanup()
        defer { cleanup.runAll() }
        // The python3 on PATH, where pip put asyncua.
        let subscriber = try BenchChild(name: "asyncua subscriber", executable: "/usr/bin/env", ["python3", script, endpoint, out, ready, "10", "600"], cleanup: cleanup)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: ready) {
            guard subscriber.isRunning, Date() < deadline else {
                throw BenchFailure("the asyncua subscriber did not subscribe (is asyncua installed? pip install asyncua); its output:\n\(subscriber.output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let sent = try await sendLoad(urls: [url], http: http, everyOneNew: true)
        try await waitForDrain { try await store.stats() }
        let status = await subscriber.exit()
        guard status == 0 else { throw BenchFailure("the asyncua subscriber exited with status \(status); its output:\n\(subscriber.output)") }

        // Detection events carry the detection's id; incident events `<incident>/<state>`.
        let sentAt = Date().timeIntervalSince1970 - (ContinuousClock.now - sent.started).seconds
        var latencies: [Double] = [], detectionEvents = 0, incidentEvents = 0, lastReceived = sentAt
        let text = try String(contentsOfFile: out, encoding: .utf8)
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, let created = Double(f[1]), let received = Double(f[2]) else { continue }
            lastReceived = max(lastReceived, received)
            if f[0].contains("/") { incidentEvents += 1; continue }
            detectionEvents += 1
            latencies.append((received - created) * 1000)
        }
        latencies.sort()
        let events = detectionEvents + incidentEvents
        let span = max(0.001, lastReceived - sentAt)
        return [
            "events_delivered": events,
            "detection_events": detectionEvents,
            "incident_events": incidentEvents,
            "events_per_s": (Double(events) / span).rounded(),
            "detection_to_event_p50_ms": round2(pct(latencies, 0.5)),
            "detection_to_event_p99_ms": round2(pct(latencies, 0.99)),
            "detections_sent": sent.total,
            // The floor's event bus drops a slow listener's oldest events (counted in
            // millwright_floor_events_dropped_total); the OPC UA bridge reads each incident.
            "detections_without_event": sent.total - detectionEvents,
            "detections_per_s": (Double(sent.total) / sent.elapsed).rounded(),
            "setup": ["transport": "rest in, opc.tcp out (SecurityPolicy None, anonymous)", "load": "every detection in a zone of its own: each opens an incident and a work order", "subscriber": "one python asyncua client, ResultReadyEventType on Server, publishing interval 10 ms",
                      "store": "sqlite (WAL, synchronous=FULL)", "batch_size": batch, "clients": clients,
                      "latency": "event received minus the detection's timestamp (set as its batch was sent), same clock", "build": Self.buildKind] as [String: Any],
        ]
    }
}

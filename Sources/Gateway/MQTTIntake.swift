import Foundation
import Ingest
import Logging
import Metrics
import MillwrightCore
import MQTT
import NIOCore
import ServiceLifecycle

/// The MQTT subscription's messages into the store: each detection is committed before its
/// message is acknowledged (see `MQTTBridge`), at most `concurrentIngests` at once. A
/// service of its own so that a graceful stop ends it with the other intake, first, while
/// the bridge's session stays open for the acknowledgements and the dispatcher's news.
public struct MQTTIntake: Service {
    let bridge: MQTTBridge
    /// Each source's filter parsed once (the config loader has checked them all).
    let sources: [(filter: MQTTTopicFilter, source: MQTTSource)]

    init(bridge: MQTTBridge) {
        self.bridge = bridge
        sources = bridge.settings.sources.compactMap { s in MQTTTopicFilter(s.topic).map { ($0, s) } }
    }
    /// Messages being stored at once; acknowledgements still go out in arrival order. Many, so
    /// that they share commits (group commit): a group is at most what is in flight.
    static let concurrentIngests = 1024
    /// Their payloads' bytes at once (a batch larger than this still goes, alone).
    static let concurrentIngestBytes = 16 * 1024 * 1024
    /// What one batch takes from the client's queue: whatever is there, up to these. A batch
    /// is read, guarded and committed together, and acknowledged in one trip.
    public static let batchMessages = 256
    static let batchBytes = 1 << 20

    /// Whether a batch of `messages` and `size` payload bytes may start being stored beside those in flight.
    static func mayStart(size: Int, messages: Int = 1, inFlight: Int, inFlightBytes: Int) -> Bool {
        inFlight == 0 || (inFlight + messages <= concurrentIngests && inFlightBytes + size <= concurrentIngestBytes)
    }

    var gateway: Gateway { bridge.gateway }
    var settings: MQTTSettings { bridge.settings }
    var client: MQTTClient { bridge.client }
    var logger: Logger { bridge.logger }

    /// A new reading of mosquitto's drop counter: a rise is an alert.
    func brokerDropped(_ payload: String, counter: inout BrokerDropCounter) async {
        guard let dropped = counter.observe(payload) else { return }
        Counter(label: "millwright_mqtt_broker_dropped_messages_total").increment(by: dropped)
        await bridge.raiseBrokerAlert(
            kind: "mqtt.broker_dropped",
            text: "the MQTT broker dropped \(dropped) message(s): messages may have been lost at the broker",
            facts: [.init("broker", settings.broker), .init("dropped_total", "\(counter.last ?? 0)")], recipients: settings.alert)
    }

    func source(for topic: String) -> MQTTSource? {
        sources.first { $0.filter.matches(topic) }?.source
    }

    /// Reads messages until graceful shutdown, then stops taking them and returns when the
    /// ones taken are committed and acknowledged. A message never taken is never
    /// acknowledged, so the broker sends it again in the next session.
    public func run() async throws {
        let inFlight = InFlightCounter()
        let inFlightBytes = InFlightCounter()
        let slotFreed = Wakeup()
        await withDiscardingTaskGroup { group in
            var drops = BrokerDropCounter()
            for await taken in client.messageBatches(messages: Self.batchMessages, bytes: Self.batchBytes).cancelOnGracefulShutdown() {
                var batch: [MQTTMessage] = []
                for message in taken {
                    if message.topic == BrokerDropCounter.topic {
                        await brokerDropped(message.payloadString, counter: &drops)
                    } else {
                        batch.append(message)
                    }
                }
                guard !batch.isEmpty else { continue }
                gateway.mqttStatus.messageReceived(at: Date())
                let size = batch.reduce(0) { $0 + $1.payload.readableBytes }
                while !Self.mayStart(size: size, messages: batch.count, inFlight: inFlight.current, inFlightBytes: inFlightBytes.current) {
                    await slotFreed.wait(timeout: .seconds(1))
                }
                inFlight.add(batch.count)
                inFlightBytes.add(size)
                group.addTask {
                    await self.handle(batch)
                    inFlight.add(-batch.count)
                    inFlightBytes.add(-size)
                    slotFreed.signal()
                }
            }
        }
        // The stream also ends if the client is shut down early; a service still ends only when told.
        if !Task.isShuttingDownGracefully { try? await gracefulShutdown() }
    }

    /// What becomes of a message after its ingest.
    enum Settlement {
        /// Stored, rejected for good or quarantined: the broker may forget it.
        case acknowledge
        /// Stopping: not acknowledged, so the broker sends it again in the next session.
        case keep
        /// The store failed: try again, and the broker keeps it meanwhile.
        case retry(any Error)
    }

    /// `log` is built only for a line that is written: most messages settle silently.
    func settle(_ result: Result<Gateway.IngestReport, any Error>, log: @autoclosure () -> Logger) -> Settlement {
        switch result {
        case .success(let report):
            guard !report.rejected.isEmpty else { return .acknowledge }
            let log = log()
            for r in report.rejected {
                log.warning("item rejected", metadata: ["index": "\(r.index)", "field": "\(r.field ?? "")", "problem": "\(r.problem)"])
            }
            return .acknowledge
        case .failure(Gateway.IngestError.quarantined(let crashes, let sha)):
            log().error("message quarantined: the gateway stopped \(crashes) times processing it; acknowledged and recorded as rejected",
                      metadata: ["payload_sha256": "\(sha)"])
            return .acknowledge
        case .failure(Gateway.IngestError.shuttingDown):
            return .keep
        case .failure(let e as Gateway.IngestError):
            log().warning("payload cannot be ingested; acknowledged so it does not block the stream", metadata: ["error": "\(e)"])
            return .acknowledge
        case .failure(let error):
            return .retry(error)
        }
    }

    func logger(for message: MQTTMessage) -> Logger {
        var log = logger
        log[metadataKey: "topic"] = "\(message.topic)"
        return log
    }

    func gatewaySource(_ src: MQTTSource, topic: String) -> Gateway.Source {
        var source = Gateway.Source(format: VisionFormat(rawValue: src.format))
        if let level = src.cameraFromTopic {
            let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
            if level < levels.count { source.camera = String(levels[level]); source.cameraIsAuthoritative = true }
        }
        source.labels = settings.labels
        source.frigateURL = src.frigateURL
        source.assumedConfidence = src.assumedConfidence
        return source
    }

    /// A batch taken together: read and committed in one `Gateway.ingest(batch:)`, then
    /// acknowledged in one trip; a message the store failed on goes on alone, retrying.
    func handle(_ messages: [MQTTMessage]) async {
        var items: [(body: Data, source: Gateway.Source)] = []
        var ingesting: [MQTTMessage] = []
        var done: [MQTTMessage] = []
        for message in messages {
            guard let src = source(for: message.topic) else {
                logger(for: message).warning("message on a topic no source matches; acknowledged and ignored")
                done.append(message)
                continue
            }
            if src.format == "snapshot" {
                await handleSnapshot(message, source: src, log: logger(for: message))
                continue
            }
            items.append((Data(message.payload.readableBytesView), gatewaySource(src, topic: message.topic)))
            ingesting.append(message)
        }
        let results = items.isEmpty ? [] : await gateway.ingest(batch: items)
        var retry: [(MQTTMessage, Data, Gateway.Source)] = []
        for (i, result) in results.enumerated() {
            switch settle(result, log: logger(for: ingesting[i])) {
            case .acknowledge: done.append(ingesting[i])
            case .keep: break
            case .retry(let error):
                if Task.isShuttingDownGracefully { continue }
                logger(for: ingesting[i]).error("could not store detection; retrying", metadata: ["error": "\(error)", "attempt": "1"])
                retry.append((ingesting[i], items[i].body, items[i].source))
            }
        }
        await client.acknowledge(done)
        for (message, body, source) in retry { await handleAlone(message, body: body, source: source, after: 1) }
    }

    /// One message the store failed on: tried again with a growing pause until it is stored
    /// (or settled otherwise), or until a stop, which leaves it unacknowledged for the broker.
    func handleAlone(_ message: MQTTMessage, body: Data, source: Gateway.Source, after failures: Int) async {
        let log = logger(for: message)
        var attempt = failures
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(min(5000, 100 * attempt * attempt)))
            attempt += 1
            let result: Result<Gateway.IngestReport, any Error>
            do { result = .success(try await gateway.ingest(body: body, source: source)) } catch { result = .failure(error) }
            switch settle(result, log: log) {
            case .acknowledge:
                await message.acknowledge()
                return
            case .keep:
                return
            case .retry(let error):
                // Stopping: give up unacknowledged rather than hold the shutdown; the broker keeps it.
                if Task.isShuttingDownGracefully { return }
                log.error("could not store detection; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            }
        }
    }

    func handleSnapshot(_ message: MQTTMessage, source src: MQTTSource, log: Logger) async {
        let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let level = src.cameraFromTopic, level < levels.count else {
            log.warning("snapshot source needs camera_from_topic; acknowledged and ignored")
            await message.acknowledge()
            return
        }
        do {
            try await gateway.storeSnapshot(camera: String(levels[level]), image: Data(message.payload.readableBytesView))
        } catch {
            log.warning("snapshot not stored", metadata: ["error": "\(error)"])
        }
        // A lost snapshot only means an evidence card instead of a frame: never block the stream.
        await message.acknowledge()
    }

}

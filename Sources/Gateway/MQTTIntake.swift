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
    static let concurrentIngests = 256
    /// Their payloads' bytes at once (a message larger than this still goes, alone).
    static let concurrentIngestBytes = 16 * 1024 * 1024

    /// Whether a message of `size` payload bytes may start being stored beside those in flight.
    static func mayStart(size: Int, inFlight: Int, inFlightBytes: Int) -> Bool {
        inFlight == 0 || (inFlight < concurrentIngests && inFlightBytes + size <= concurrentIngestBytes)
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
            for await message in client.messages.cancelOnGracefulShutdown() {
                if message.topic == BrokerDropCounter.topic {
                    await brokerDropped(message.payloadString, counter: &drops)
                    continue
                }
                gateway.mqttStatus.messageReceived(at: Date())
                let size = message.payload.readableBytes
                while !Self.mayStart(size: size, inFlight: inFlight.current, inFlightBytes: inFlightBytes.current) {
                    await slotFreed.wait(timeout: .seconds(1))
                }
                inFlight.add(1)
                inFlightBytes.add(size)
                group.addTask {
                    await self.handle(message)
                    inFlight.add(-1)
                    inFlightBytes.add(-size)
                    slotFreed.signal()
                }
            }
        }
        // The stream also ends if the client is shut down early; a service still ends only when told.
        if !Task.isShuttingDownGracefully { try? await gracefulShutdown() }
    }

    func handle(_ message: MQTTMessage) async {
        var log = logger
        log[metadataKey: "topic"] = "\(message.topic)"
        guard let src = source(for: message.topic) else {
            log.warning("message on a topic no source matches; acknowledged and ignored")
            await message.acknowledge()
            return
        }
        if src.format == "snapshot" {
            await handleSnapshot(message, source: src, log: log)
            return
        }
        var source = Gateway.Source(format: VisionFormat(rawValue: src.format))
        if let level = src.cameraFromTopic {
            let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false)
            if level < levels.count { source.camera = String(levels[level]); source.cameraIsAuthoritative = true }
        }
        source.labels = settings.labels
        source.frigateURL = src.frigateURL
        source.assumedConfidence = src.assumedConfidence
        let body = Data(message.payload.readableBytesView)
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let report = try await gateway.ingest(body: body, source: source)
                for r in report.rejected {
                    log.warning("item rejected", metadata: ["index": "\(r.index)", "field": "\(r.field ?? "")", "problem": "\(r.problem)"])
                }
                await message.acknowledge()
                return
            } catch Gateway.IngestError.quarantined(let crashes, let sha) {
                log.error("message quarantined: the gateway stopped \(crashes) times processing it; acknowledged and recorded as rejected",
                          metadata: ["payload_sha256": "\(sha)"])
                await message.acknowledge()
                return
            } catch Gateway.IngestError.shuttingDown {
                // Not acknowledged: the broker sends it again in the next session.
                return
            } catch let e as Gateway.IngestError {
                log.warning("payload cannot be ingested; acknowledged so it does not block the stream", metadata: ["error": "\(e)"])
                await message.acknowledge()
                return
            } catch {
                // The store failed: do not acknowledge; retry, and the broker keeps the message meanwhile.
                // Stopping: give up unacknowledged rather than hold the shutdown; the broker keeps it.
                if Task.isShuttingDownGracefully { return }
                log.error("could not store detection; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(min(5000, 100 * attempt * attempt)))
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

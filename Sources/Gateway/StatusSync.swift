import Connectors
import Evidence
import Foundation
import Logging
import MillwrightCore
import ServiceLifecycle
import Store

/// Reads work-order status back from each CMMS, closes incidents whose work is done, notes
/// repeat detections on the work order and attaches evidence a first upload missed; once a
/// work order is completed, cancelled or closed as a false positive, reads its closure code,
/// the technician's notes and the completion photo back once (`readBack`). One loop per CMMS,
/// each on that system's `status_poll`, until graceful shutdown.
public struct StatusSync: Service {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    var store: any GatewayStore { gateway.store }
    var logger: Logger { gateway.logger }

    public func run() async throws {
        let polls = gateway.connectors.values.compactMap { c in gateway.settings.cmms(named: c.name).map { (c, $0.statusPollInterval) } }
        guard !polls.isEmpty else { try? await gracefulShutdown(); return }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for (connector, interval) in polls {
                    group.addTask {
                        while !Task.isCancelled {
                            await self.syncOnce(connector)
                            try? await Task.sleep(for: interval)
                        }
                    }
                }
            }
        }
    }

    public func syncOnce(_ connector: any CMMSConnector) async {
        let open: [Store.OpenWorkOrder]
        do { open = try await store.openDelivered(cmms: connector.name) } catch {
            logger.error("status sync query failed", metadata: ["error": "\(error)"]); return
        }
        // Verdicts (and their signatures) for work orders the CMMS has, open or closed.
        if let notes = try? await store.pendingNotes(cmms: connector.name, limit: 50) {
            for note in notes where !Task.isCancelled {
                let sent = await connector.addNote(cmmsId: note.cmmsId, text: note.text)
                do { try await store.recordNote(note, sent: sent, now: Date()) } catch {
                    logger.warning("could not record a CMMS note", metadata: ["work_order": "\(note.workOrderId)", "error": "\(error)"])
                }
            }
        }
        for wo in open {
            if Task.isCancelled { return }
            var log = logger
            log[metadataKey: "work_order"] = "\(wo.workOrderId)"
            log[metadataKey: "incident"] = "\(wo.incidentId)"
            if wo.repeatsUnnoted > 0 {
                let text = "Millwright: \(wo.repeatsUnnoted) more detection(s) of this defect, last at \(Timestamps.format(wo.lastSeen)) UTC."
                if await connector.addNote(cmmsId: wo.cmmsId, text: text) {
                    try? await store.markRepeatsNoted(workOrderId: wo.workOrderId, count: wo.repeatsUnnoted, now: Date())
                }
            }
            if let sha = wo.evidenceToAttach, let jpeg = try? gateway.evidence?.images.get(sha) {
                let ok = await connector.attach(cmmsId: wo.cmmsId, filename: "\(wo.reference)-evidence.jpg", jpeg: jpeg)
                if ok { try? await store.recordAttachment(workOrderId: wo.workOrderId, sha256: sha, ok: true, now: Date()) }
            }
            do {
                guard let status = try await connector.status(cmmsId: wo.cmmsId) else { continue }
                let t = try await store.applyCMMSStatus(workOrderId: wo.workOrderId, status: status, now: Date())
                if case .moved(let from, let to) = t {
                    gateway.floorEvents.publish(.incident(id: wo.incidentId, camera: wo.camera, state: to.rawValue, detail: "CMMS status \(status.rawValue)"))
                    log.info("incident moved by CMMS status", metadata: ["from": "\(from.rawValue)", "to": "\(to.rawValue)", "cmms_status": "\(status.rawValue)"])
                }
            } catch {
                log.warning("status read failed", metadata: ["error": "\(error)"])
            }
        }
        await readBack(connector)
        // Not `stats()`: that reads every latency, and this runs on every poll.
        if let byPhase = try? await store.workOrdersByPhase() {
            for phase in DeliveryState.Phase.allCases {
                gateway.metrics.outbox(phase: phase.rawValue, count: byPhase[phase.rawValue] ?? 0)
            }
        }
    }
}

extension StatusSync {
    /// Work orders read back per poll, at most: a backlog drains over several polls.
    static let readbacksPerPoll = 20

    /// Reads back the closure of work orders that closed since the last poll (and retries the
    /// reads that failed). The photo is checked (`CompletionPhoto`) and kept in the evidence
    /// store; a photo refused is said in the record, and the code and notes are kept anyway.
    public func readBack(_ connector: any CMMSConnector) async {
        let due: [Store.ReadbackDue]
        do { due = try await store.pendingReadbacks(cmms: connector.name, limit: Self.readbacksPerPoll, now: Date()) } catch {
            logger.error("read-back query failed", metadata: ["error": "\(error)"]); return
        }
        for item in due where !Task.isCancelled {
            var log = logger
            log[metadataKey: "work_order"] = "\(item.workOrderId)"
            do {
                switch await connector.readBack(cmmsId: item.cmmsId, reference: item.reference) {
                case .failed(let why):
                    log.warning("closure read-back failed", metadata: ["error": "\(why)"])
                    try await store.recordReadbackFailure(workOrderId: item.workOrderId, error: why, now: Date())
                case .unsupported(let why):
                    try await store.recordReadback(workOrderId: item.workOrderId, Store.ReadbackRecord(outcome: .unsupported, refused: [why]), now: Date())
                case .read(let r):
                    var record = Store.ReadbackRecord(outcome: .read, closureCode: r.closureCode, notes: r.notes, refused: r.refused)
                    if let photo = r.photo {
                        if let images = gateway.evidence?.images {
                            do {
                                let jpeg = try CompletionPhoto.accept(photo)
                                record.photoSHA256 = try images.put(jpeg)
                                record.photoName = photo.filename
                            } catch {
                                record.refused.append(CMMSReadback.cut("\(photo.filename): \(error)", ReadbackLimits.refusalBytes))
                            }
                        } else {
                            record.refused.append("\(photo.filename): not kept, this gateway has no evidence storage")
                        }
                    }
                    try await store.recordReadback(workOrderId: item.workOrderId, record, now: Date())
                    // An incident page open on the board re-fetches and shows the closure.
                    gateway.events.note("incident", ["id": .string(item.incidentId), "camera": .string(item.camera), "state": .string("closed"),
                                                     "detail": .string("closure read back from the CMMS")])
                    log.info("closure read back", metadata: ["photo": "\(record.photoSHA256 != nil)", "notes": "\(record.notes.count)", "refused": "\(record.refused.count)"])
                }
            } catch {
                log.warning("could not record a read-back", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The checks a completion photo passes before it is kept beside the evidence: JPEG or PNG by
/// its bytes (whatever the CMMS called it), within `ReadbackLimits.photoBytes` and `maxPixels`,
/// decodable to the end. A JPEG is kept as it came; a PNG is kept as a JPEG, so the evidence
/// route and its thumbnails serve it as they serve evidence.
public enum CompletionPhoto {
    /// A phone's photo is 12 megapixels by default; this bounds the decode (4 bytes a pixel) of a
    /// small file that declares a huge image.
    public static let maxPixels = 25_000_000

    public enum Refusal: Error, CustomStringConvertible {
        case tooLarge(Int)
        case notAnImage(String)
        public var description: String {
            switch self {
            case .tooLarge(let n): "\(n) bytes, more than \(ReadbackLimits.photoBytes); not kept"
            case .notAnImage(let why): "not a JPEG or PNG photo (\(why)); not kept"
            }
        }
    }

    public static func accept(_ photo: ReadbackPhoto) throws(Refusal) -> Data {
        guard photo.data.count <= ReadbackLimits.photoBytes else { throw .tooLarge(photo.data.count) }
        do {
            let info = try FrameCheck.inspect(photo.data, maxPixels: maxPixels)
            let raster = try ImageDecoder.decode(photo.data, maxPixels: maxPixels)
            return info.format == .jpeg ? photo.data : try JPEG.encode(raster, quality: 90)
        } catch {
            throw .notAnImage("\(error)")
        }
    }
}

import ArgumentParser
import Foundation
import Logging
import MillwrightCore
import ServiceLifecycle
import Store

/// Appends a signed checkpoint of the audit trail's head at start, every
/// `audit.checkpoint_every`, and once more at graceful shutdown. Listed first among serve's
/// services, so it stops last and its final checkpoint covers the last records written.
struct AuditCheckpointService: Service {
    let store: Store
    let key: AuditKey
    let file: AuditCheckpointFile
    let every: Duration
    let logger: Logger

    /// Writes the first checkpoint, or exits 2 naming the file: a checkpoint file that cannot
    /// be written stops serve at start rather than failing unseen later. Nil without a key.
    static func start(_ settings: Settings, store: Store, logger: Logger) async throws -> AuditCheckpointService? {
        guard let key = settings.audit.key, let path = settings.audit.checkpointsPath else { return nil }
        let service = AuditCheckpointService(store: store, key: key, file: AuditCheckpointFile(path: path), every: settings.audit.checkpointEvery, logger: logger)
        do { try await store.appendAuditCheckpoint(key: key, to: service.file) } catch {
            Runtime.printError("audit error: \(error)")
            throw ExitCode(2)
        }
        return service
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: every)) != nil { await write() }
        }
        await write()
    }

    private func write() async {
        do { try await store.appendAuditCheckpoint(key: key, to: file) } catch {
            logger.error("audit checkpoint not written", metadata: ["error": "\(error)", "file": "\(file.path)"])
        }
    }
}

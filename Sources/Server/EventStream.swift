import Foundation
import Gateway
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `GET /v1/events`: the board's news as Server-Sent Events, from `Gateway.events`.
///
/// Each event has an id `<boot>.<seq>`; a client that reconnects with `Last-Event-ID` gets
/// what it missed while this node still holds it. When it does not (another run, another node,
/// or older than the ring) it gets a `reset` event first: reload the lists, then follow on.
/// A comment line every `heartbeat` keeps proxies and the client's timeout from closing a
/// quiet stream. Streams end on graceful shutdown, so they never hold up the server's drain.
enum EventStream {
    static let heartbeat: Duration = .seconds(15)
    /// What the browser waits before reconnecting after the stream ends.
    static let retryMilliseconds = 3000

    static func response(_ request: Request, journal: EventJournal) throws -> Response {
        // A header that is not one of ours (too long, other run) simply means reset.
        let lastEventId = request.headers[.init("Last-Event-ID")!].flatMap { $0.utf8.count <= 64 ? $0 : "" }
        guard journal.admit() else {
            var p = Problem(.serviceUnavailable, type: "too-many-streams", detail: "\(journal.maxClients) event streams are open on this node; ask again later")
            p.retryAfter = 5
            throw p
        }
        let start = journal.resume(from: lastEventId), slot = Slot(journal)
        let body = ResponseBody { writer in
            // The slot lives as long as this closure, to the end of the stream at least.
            defer { withExtendedLifetime(slot) {} }
            try await withGracefulShutdownHandler {
                try await stream(start, journal: journal, to: &writer)
            } onGracefulShutdown: {
                journal.wakeAll()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"], body: body)
    }

    /// A stream's place among `maxClients`, given back when the response is let go: also when
    /// its body never ran (the client left before the head was written).
    final class Slot: Sendable {
        let journal: EventJournal
        init(_ journal: EventJournal) { self.journal = journal }
        deinit { journal.leave() }
    }

    static func stream(_ start: EventRing.Resume, journal: EventJournal, heartbeat: Duration = heartbeat,
                       to writer: inout any ResponseBodyWriter) async throws {
        var seq: UInt64
        var out = "retry: \(retryMilliseconds)\n\n"
        switch start {
        case .after(let s): seq = s
        case .reset:
            seq = journal.lastSeq
            out += frame(id: journal.id(seq: seq), name: "reset", data: "{}")
        }
        try await writer.write(ByteBuffer(string: out))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            guard let events = journal.events(after: seq) else {
                // Fell behind the ring (a slow reader): the lists are stale.
                seq = journal.lastSeq
                try await writer.write(ByteBuffer(string: frame(id: journal.id(seq: seq), name: "reset", data: "{}")))
                continue
            }
            if let last = events.last {
                seq = last.event.seq
                try await writer.write(ByteBuffer(string: events.map { frame(id: $0.id, name: $0.event.name, data: $0.event.data) }.joined()))
                continue
            }
            await journal.wait(after: seq, timeout: heartbeat)
            if journal.lastSeq == seq, !Task.isShuttingDownGracefully {
                try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
            }
        }
    }

    /// One event. `data` is one line of JSON (the journal writes it without newlines).
    static func frame(id: String, name: String, data: String) -> String {
        "id: \(id)\nevent: \(name)\ndata: \(data)\n\n"
    }
}

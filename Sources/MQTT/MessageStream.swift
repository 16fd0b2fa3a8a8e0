/// ``MQTTClient/messages``: an `AsyncSequence` over the client's bounded inbound queue. Single
/// consumer; taking a message is what frees room (and, once half empty, resumes reading).
public struct MQTTMessageStream: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    let client: MQTTClient

    /// Takes what is queued in one trip to the client's event loop, up to `batchMessages` and
    /// `batchBytes` (one trip per message cost more than a shared commit of it).
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        let client: MQTTClient
        private var taken: [MQTTMessage] = []
        private var position = 0

        static let batchMessages = 64
        static let batchBytes = 1 << 20

        init(client: MQTTClient) { self.client = client }

        public mutating func next() async -> MQTTMessage? {
            if position == taken.count {
                taken = await client.nextMessages(upTo: Self.batchMessages, bytes: Self.batchBytes)
                position = 0
                guard !taken.isEmpty else { return nil }
            }
            defer { position += 1 }
            return taken[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(client: client) }
}

/// ``MQTTClient/messageBatches``: what is queued, in one trip to the client's event loop per
/// batch, for a consumer that processes messages together (one commit, one acknowledgement
/// trip for many). Single consumer, like ``MQTTMessageStream``; use one or the other.
public struct MQTTMessageBatches: AsyncSequence, Sendable {
    public typealias Element = [MQTTMessage]
    public typealias Failure = Never

    let client: MQTTClient
    let messages: Int
    let bytes: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        let batches: MQTTMessageBatches

        /// At least one message, oldest first; nil once the client is shut down and drained.
        public mutating func next() async -> [MQTTMessage]? {
            let taken = await batches.client.nextMessages(upTo: batches.messages, bytes: batches.bytes)
            return taken.isEmpty ? nil : taken
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(batches: self) }
}

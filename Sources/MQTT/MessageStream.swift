/// ``MQTTClient/messages``: an `AsyncSequence` over the client's bounded inbound queue. Single
/// consumer; taking a message is what frees room (and, once half empty, resumes reading).
public struct MQTTMessageStream: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    let client: MQTTClient

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        let client: MQTTClient
        public mutating func next() async -> MQTTMessage? { await client.nextMessage() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(client: client) }
}

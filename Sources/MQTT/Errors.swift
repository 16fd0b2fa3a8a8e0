/// A packet could not be decoded (or must not be encoded). Carries the MQTT 5 reason code
/// a receiver uses in the DISCONNECT it sends before closing the connection
/// (0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet too large, …).
public struct MQTTDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: ReasonCode
    public var message: String

    public init(_ reason: ReasonCode, _ message: String) {
        self.reason = reason
        self.message = message
    }

    static func malformed(_ message: String) -> MQTTDecodeError { .init(.malformedPacket, message) }
    static func protocolError(_ message: String) -> MQTTDecodeError { .init(.protocolError, message) }

    public var description: String { "MQTT decode error \(reason): \(message)" }
}

/// Errors surfaced by the session state machine and the client.
public enum MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server refused the connection (CONNACK reason / 3.1.1 return code).
    case connectionRefused(ReasonCode, reasonString: String?)
    /// The server sent DISCONNECT.
    case serverDisconnected(ReasonCode, reasonString: String?)
    /// A PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK carried a failure reason code.
    case operationFailed(ReasonCode, reasonString: String?)
    /// The peer violated the protocol; the connection is closed with this reason code.
    case protocolViolation(ReasonCode, String)
    /// The request cannot be sent to this server (packet too large, QoS or retain not
    /// supported, invalid topic, …).
    case invalidRequest(ReasonCode, String)
    /// No packet identifier is free (65535 operations in flight).
    case packetIdentifiersExhausted
    /// The keep-alive PINGRESP did not arrive in time.
    case keepAliveTimeout
    /// The TCP/TLS connection closed.
    case connectionClosed
    /// `disconnect()` was called or the client was shut down.
    case clientClosed
    /// The operation did not complete in time.
    case timeout

    public var description: String {
        switch self {
        case let .connectionRefused(r, s): return "connection refused (\(r))" + (s.map { ": \($0)" } ?? "")
        case let .serverDisconnected(r, s): return "server disconnected (\(r))" + (s.map { ": \($0)" } ?? "")
        case let .operationFailed(r, s): return "operation failed (\(r))" + (s.map { ": \($0)" } ?? "")
        case let .protocolViolation(r, m): return "protocol violation (\(r)): \(m)"
        case let .invalidRequest(r, m): return "invalid request (\(r)): \(m)"
        case .packetIdentifiersExhausted: return "no free packet identifier"
        case .keepAliveTimeout: return "keep-alive timeout"
        case .connectionClosed: return "connection closed"
        case .clientClosed: return "client closed"
        case .timeout: return "timed out"
        }
    }
}

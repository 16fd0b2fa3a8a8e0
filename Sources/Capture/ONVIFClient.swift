import AsyncHTTPClient
import Foundation
import MillwrightCore
import NIOCore
import NIOHTTP1

/// What an ONVIF camera said to capture from.
public enum ONVIFSource: Sendable, Equatable {
    /// An RTSP URI, decoded by ffmpeg like a configured `rtsp:` camera.
    case stream(String)
    /// An HTTP URI of one JPEG, fetched every `every`: the camera has no stream to give.
    case snapshot(String)
}

/// A failed ONVIF call, worded for the log and the capture state.
public struct ONVIFError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var url: String
    public var problem: String
    public var description: String { "ONVIF \(operation) at \(url): \(problem)" }
}

/// The async shell around `ONVIF`: posts its envelopes to the camera's Media service with a
/// fresh UsernameToken each time (a nonce is used once), and fetches snapshots. Every answer is
/// read up to a byte bound, every call has a deadline.
public struct ONVIFClient: Sendable {
    public let url: String
    public let user: String?
    public let password: String?
    public let udp: Bool
    let http: HTTPClient
    let timeout: TimeAmount

    /// The client every camera shares for the life of the process. It follows no redirect: a
    /// redirect would lead the gateway to an address `evidence.fetch_allow` never checked.
    public static let sharedHTTP: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
    }()

    public init(url: String, user: String?, password: String?, udp: Bool, http: HTTPClient = ONVIFClient.sharedHTTP, timeout: TimeAmount = .seconds(10)) {
        self.url = url; self.user = user; self.password = password; self.udp = udp; self.http = http; self.timeout = timeout
    }

    init(camera c: CaptureCamera) {
        self.init(url: c.url, user: c.user, password: c.password, udp: c.transport == .udp)
    }

    /// GetProfiles, then GetStreamUri for the first profile with a video encoder; GetSnapshotUri
    /// when no profile has one or the camera refuses the stream (any fault but not authorized).
    public func resolve() async throws(ONVIFError) -> ONVIFSource {
        let profiles = try await call(.getProfiles, ONVIF.getProfiles(token: token())) { a throws(ONVIF.AnswerError) in try ONVIF.profiles(a) }
        var streamProblem: String?
        if let p = profiles.first(where: \.hasVideoEncoder) {
            do {
                return .stream(try await call(.getStreamUri, ONVIF.getStreamUri(profile: p.token, udp: udp, token: token())) {
                    a throws(ONVIF.AnswerError) in try ONVIF.uri(a, of: .getStreamUri)
                })
            } catch let e where e.problem.hasPrefix("not authorized") || e.problem.hasPrefix("cannot reach") {
                throw e
            } catch {
                streamProblem = error.problem
            }
        }
        let profile = (profiles.first(where: \.hasVideoEncoder) ?? profiles[0]).token
        do {
            return .snapshot(try await call(.getSnapshotUri, ONVIF.getSnapshotUri(profile: profile, token: token())) {
                a throws(ONVIF.AnswerError) in try ONVIF.uri(a, of: .getSnapshotUri)
            })
        } catch {
            guard let streamProblem else { throw error }
            throw ONVIFError(operation: "GetStreamUri and GetSnapshotUri", url: url, problem: "\(streamProblem); then \(error.problem)")
        }
    }

    func token() -> ONVIF.UsernameToken? {
        user.map { ONVIF.UsernameToken.fresh(user: $0, password: password ?? "") }
    }

    func call<T>(_ op: ONVIF.Operation, _ envelope: String, _ read: ([UInt8]) throws(ONVIF.AnswerError) -> T) async throws(ONVIFError) -> T {
        func failure(_ problem: String) -> ONVIFError { ONVIFError(operation: op.rawValue, url: url, problem: problem) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: #"application/soap+xml; charset=utf-8; action="\#(op.soapAction)""#)
        request.body = .bytes(ByteBuffer(string: envelope))
        let status: HTTPResponseStatus
        let bytes: [UInt8]
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = response.status
            bytes = Array(buffer: try await response.body.collect(upTo: ONVIF.maxAnswerBytes))
        } catch is NIOTooManyBytesError {
            throw failure("answer longer than \(ONVIF.maxAnswerBytes) bytes")
        } catch {
            throw failure("cannot reach the camera (\(Self.clean("\(error)")))")
        }
        do {
            return try read(bytes)
        } catch {
            switch error {
            case .fault(let f):
                if f.notAuthorized { throw failure("not authorized; check user and password_env") }
                let code = ([f.code] + f.subcodes).filter { !$0.isEmpty }.joined(separator: "/")
                throw failure("SOAP fault \(Self.clean(code))\(f.reason.isEmpty ? "" : ": \(Self.clean(f.reason))")")
            case .malformed(let why):
                // A camera that wants HTTP authentication instead of WS-Security answers 401 with no envelope.
                if status == .unauthorized { throw failure("not authorized (HTTP 401); check user and password_env") }
                if status != .ok { throw failure("HTTP \(status.code)") }
                throw failure("unreadable answer: \(why)")
            }
        }
    }

    /// One snapshot, at most `maxBytes`. A camera that challenges for HTTP Digest (preferred)
    /// or Basic authentication gets the camera's user and password, once.
    public func snapshot(_ uri: String, maxBytes: Int) async throws(ONVIFError) -> Data {
        func failure(_ problem: String) -> ONVIFError { ONVIFError(operation: "snapshot", url: uri, problem: problem) }
        var request = HTTPClientRequest(url: uri)
        do {
            var response = try await http.execute(request, timeout: timeout)
            if response.status == .unauthorized, let user, let answer = Self.answer(response.headers["WWW-Authenticate"], user: user, password: password ?? "", uri: uri) {
                // The 401's body is not wanted; reading it (bounded) frees the connection for reuse.
                _ = try? await response.body.collect(upTo: 64 << 10)
                request.headers.add(name: "Authorization", value: answer)
                response = try await http.execute(request, timeout: timeout)
            }
            if response.status == .unauthorized { throw failure("not authorized (HTTP 401); check user and password_env") }
            guard response.status == .ok else { throw failure("HTTP \(response.status.code)") }
            return Data(try await response.body.collect(upTo: maxBytes).readableBytesView)
        } catch let e as ONVIFError {
            throw e
        } catch is NIOTooManyBytesError {
            throw failure("snapshot larger than \(maxBytes) bytes")
        } catch {
            throw failure("cannot fetch (\(Self.clean("\(error)")))")
        }
    }

    /// The `Authorization` answering one of `challenges`: Digest if offered, else Basic.
    static func answer(_ challenges: [String], user: String, password: String, uri: String) -> String? {
        if let digest = challenges.lazy.compactMap(HTTPDigestChallenge.parse).first {
            let parts = URLComponents(string: uri)
            let path = parts?.percentEncodedPath ?? ""
            let target = (path.isEmpty ? "/" : path) + (parts?.percentEncodedQuery.map { "?" + $0 } ?? "")
            var g = SystemRandomNumberGenerator()
            let cnonce = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
            return digest.authorization(user: user, password: password, method: "GET", uri: target, cnonce: cnonce)
        }
        if challenges.contains(where: { $0.lowercased().hasPrefix("basic") }) {
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        return nil
    }

    /// Text from the camera or the network, made safe for one log line: at most 200 characters,
    /// control characters replaced.
    static func clean(_ s: String) -> String {
        String(s.prefix(200).map { $0.isASCII && ($0.asciiValue ?? 0) < 32 ? " " : $0 })
    }
}

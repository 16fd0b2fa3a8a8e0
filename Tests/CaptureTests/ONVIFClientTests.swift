@testable import Capture
import Emulators
import Evidence
import Foundation
import Hummingbird
import Logging
import MillwrightCore
import MillwrightTesting
import Testing

/// The gateway's ONVIF client against the ONVIF emulator (written apart from it) on loopback.
@Suite struct ONVIFClientTests {
    static let jpeg = try! JPEG.encode(SyntheticFrame.generate(width: 160, height: 120, seed: 7))

    static func camera(stream: String? = "rtsp://127.0.0.1:8554/cam", snapshot: Data? = jpeg) async throws -> (LocalHTTPServer, ONVIFEmulator.Camera) {
        let cam = ONVIFEmulator.Camera(ONVIFEmulator.Options(user: "admin", password: "line-2 secret", streamURI: stream, snapshot: snapshot))
        return (try await LocalHTTPServer.start(ONVIFEmulator.router(camera: cam)), cam)
    }

    static func client(_ server: LocalHTTPServer, password: String = "line-2 secret", udp: Bool = false) -> ONVIFClient {
        ONVIFClient(url: server.baseURL + "/onvif/media_service", user: "admin", password: password, udp: udp)
    }

    /// GetProfiles then GetStreamUri, signed; `tcp` asks for RTP over RTSP, `udp` for RTP over UDP.
    @Test func aStreamIsResolvedWithTheTransportAskedFor() async throws {
        let (server, cam) = try await Self.camera()
        defer { server.stop() }
        #expect(try await Self.client(server).resolve() == .stream("rtsp://127.0.0.1:8554/cam"))
        #expect(try await Self.client(server, udp: true).resolve() == .stream("rtsp://127.0.0.1:8554/cam"))
        #expect(cam.calls == ["GetProfiles", "GetStreamUri", "GetProfiles", "GetStreamUri"])
        #expect(cam.protocols == ["RTSP", "UDP"])
        #expect(cam.refusals.isEmpty)
        // A camera rebooted with a new URI: the next lookup has it.
        cam.setStreamURI("rtsp://127.0.0.1:8554/cam2")
        #expect(try await Self.client(server).resolve() == .stream("rtsp://127.0.0.1:8554/cam2"))
    }

    /// A wrong password is the camera's NotAuthorized fault, told as such; never a crash.
    @Test func aWrongPasswordIsNotAuthorized() async throws {
        let (server, cam) = try await Self.camera()
        defer { server.stop() }
        let url = server.baseURL + "/onvif/media_service"
        await #expect(throws: ONVIFError(operation: "GetProfiles", url: url, problem: "not authorized; check user and password_env")) {
            try await Self.client(server, password: "wrong").resolve()
        }
        #expect(cam.refusals == ["wrong user or password"] && cam.calls.isEmpty)
        let anonymous = ONVIFClient(url: url, user: nil, password: nil, udp: false)
        await #expect(throws: ONVIFError(operation: "GetProfiles", url: url, problem: "not authorized; check user and password_env")) {
            try await anonymous.resolve()
        }
    }

    /// A camera without a stream: GetSnapshotUri, and the JPEG it names (behind HTTP Digest).
    @Test func aCameraWithoutAStreamGivesItsSnapshot() async throws {
        let (server, cam) = try await Self.camera(stream: nil)
        defer { server.stop() }
        let client = Self.client(server)
        let source = try await client.resolve()
        #expect(source == .snapshot("http://127.0.0.1:\(server.port)/onvif/snapshot.jpg"))
        #expect(cam.calls == ["GetProfiles", "GetSnapshotUri"])
        guard case .snapshot(let uri) = source else { return }
        // The snapshot URI asks for HTTP Digest: the right password passes, a wrong one does not.
        #expect(try await client.snapshot(uri, maxBytes: 1 << 20) == Self.jpeg)
        #expect(cam.snapshotsServed == 1)
        await #expect(throws: ONVIFError(operation: "snapshot", url: uri, problem: "not authorized (HTTP 401); check user and password_env")) {
            try await Self.client(server, password: "wrong").snapshot(uri, maxBytes: 1 << 20)
        }
        #expect(cam.snapshotsServed == 1)
        await #expect(throws: ONVIFError(operation: "snapshot", url: uri, problem: "snapshot larger than 100 bytes")) {
            try await client.snapshot(uri, maxBytes: 100)
        }
    }

    /// The emulator's own checks: a replayed nonce and a stale Created are refused even with the
    /// right password; a fresh token passes.
    @Test func theEmulatorRefusesReplaysAndStaleTokens() async throws {
        let (server, cam) = try await Self.camera()
        defer { server.stop() }
        let client = Self.client(server)
        let token = ONVIF.UsernameToken(user: "admin", password: "line-2 secret", nonce: Array(repeating: 9, count: 16), created: Date())
        let once = try await client.call(.getProfiles, ONVIF.getProfiles(token: token)) { a throws(ONVIF.AnswerError) in try ONVIF.profiles(a) }
        #expect(once == [ONVIF.Profile(token: "profile_1", hasVideoEncoder: true)])
        await #expect(throws: ONVIFError.self) {
            try await client.call(.getProfiles, ONVIF.getProfiles(token: token)) { a throws(ONVIF.AnswerError) in try ONVIF.profiles(a) }
        }
        let stale = ONVIF.UsernameToken(user: "admin", password: "line-2 secret", nonce: Array(repeating: 10, count: 16), created: Date().addingTimeInterval(-3600))
        await #expect(throws: ONVIFError.self) {
            try await client.call(.getProfiles, ONVIF.getProfiles(token: stale)) { a throws(ONVIF.AnswerError) in try ONVIF.profiles(a) }
        }
        #expect(cam.refusals.count == 2 && cam.refusals[0] == "the nonce was used before" && cam.refusals[1].hasSuffix("is stale"))
    }

    /// Nothing listening: a clear error naming the call and the address.
    @Test func anUnreachableCameraIsAClearError() async throws {
        let port = try freeLoopbackPort()
        let url = "http://127.0.0.1:\(port)/onvif/media_service"
        do {
            _ = try await ONVIFClient(url: url, user: "admin", password: "x", udp: false).resolve()
            Issue.record("resolved a camera that is not there")
        } catch {
            #expect(error.description.hasPrefix("ONVIF GetProfiles at \(url): cannot reach the camera ("), "\(error)")
        }
    }

    /// The capture shell trusts the camera's answer no further than the configured URL: a
    /// stream URI outside `evidence.fetch_allow` is not connected to, and the state says why.
    @Test func aStreamURIOutsideTheFetchPolicyIsRefused() async throws {
        let (server, cam) = try await Self.camera(stream: "rtsp://10.9.8.7/cam")
        defer { server.stop() }
        var camera = CaptureCamera(camera: "CAM-9", url: server.baseURL + "/onvif/media_service", user: "admin", password: "line-2 secret")
        camera.source = .onvif
        var settings = CaptureSettings()
        settings.cameras = [camera]
        settings.fetchPolicy = FetchPolicy(entries: [try FetchPolicy.parse("127.0.0.1").get()], allowsPublic: false)
        let hub = CaptureHub(settings: settings, ffmpeg: "/nonexistent/ffmpeg", logger: Logger(label: "test"))
        let run = Task { await hub.run(detections: { _ in }) }
        defer { run.cancel() }
        let deadline = Date().addingTimeInterval(60)
        while hub.status("CAM-9")?.lastProblem == nil, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let status = try #require(hub.status("CAM-9"))
        #expect(status.lastProblem == "ONVIF stream URI rtsp://10.9.8.7/cam refused: the camera's address is not allowed: 10.9.8.7:554 (10.9.8.7) is not in evidence.fetch_allow")
        #expect(!status.online && cam.calls == ["GetProfiles", "GetStreamUri"])
    }

    /// A redirect is not followed: where it leads was never checked against the fetch policy.
    @Test func aRedirectIsNotFollowed() async throws {
        let (camera, _) = try await Self.camera()
        defer { camera.stop() }
        let router = Hummingbird.Router()
        router.post("/onvif/media_service") { _, _ in
            Response(status: .temporaryRedirect, headers: [.location: camera.baseURL + "/onvif/media_service"])
        }
        let redirector = try await LocalHTTPServer.start(router)
        defer { redirector.stop() }
        let url = redirector.baseURL + "/onvif/media_service"
        await #expect(throws: ONVIFError(operation: "GetProfiles", url: url, problem: "HTTP 307")) {
            try await ONVIFClient(url: url, user: "admin", password: "line-2 secret", udp: false).resolve()
        }
    }
}

import Foundation

// What `millwright bench` and the tests both need to start servers of their own on this
// machine (PostgreSQL, mosquitto): a free loopback port and Debian's PostgreSQL programs.
// A module of its own because the product must not depend on the test module.

/// A free loopback TCP port: bound to port 0 and released. PostgreSQL and mosquitto take a
/// port number, not a socket, so there is a short window in which another program could take
/// it; callers that start a server retry on another port.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LocalServerError("cannot open a socket to find a free port: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    guard bound == 0 else { throw LocalServerError("cannot bind a loopback port to find a free one: errno \(errno)") }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

public struct LocalServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// PostgreSQL's server programs as Debian's `postgresql` package installs them.
public enum PostgresInstallation {
    /// The newest installed major version's bin folder, e.g. /usr/lib/postgresql/15/bin.
    public static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// The unprivileged account the server runs as when we are root (PostgreSQL refuses to run
    /// as root): the package's `postgres` user, or `nobody`. Nil when we are not root.
    public static let serverAccount: (name: String, uid: uid_t, gid: gid_t)? = {
        guard getuid() == 0 else { return nil }
        for name in ["postgres", "nobody"] {
            if let pw = getpwnam(name) { return (name, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        return nil
    }()
}

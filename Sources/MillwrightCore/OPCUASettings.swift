/// `opcua:` (PRODUCT §5): the OPC UA server.
public struct OPCUASettings: Sendable, Equatable {
    public enum Policy: String, Sendable, CaseIterable {
        case none, basic256sha256, aes128sha256rsaoaep
    }

    public enum Mode: String, Sendable, CaseIterable {
        case sign, signAndEncrypt = "sign_and_encrypt"
    }

    public struct User: Sendable, Equatable {
        public var name: String
        public var password: String
        /// `operator` may reset RejectPart; `viewer` reads only.
        public var role: String
        public init(name: String, password: String, role: String = "operator") {
            self.name = name; self.password = password; self.role = role
        }
    }

    public var host = "127.0.0.1"
    /// 0: any free port (printed at start).
    public var port = 4840
    /// The server certificate (`own/`, `private/`) and the client certificates (`trusted/`,
    /// `rejected/`); needed by the secured policies.
    public var pkiDir: String?
    public var security: [Policy] = [.none]
    /// The modes of the secured policies; empty means sign_and_encrypt.
    public var modes: [Mode] = []
    public var allowAnonymous = false
    public var users: [User] = []
    public var trustAllClients = false
    /// A confirmed detection whose incident reaches this priority sets the camera's RejectPart.
    public var rejectAt: Priority = .critical
    /// Resets RejectPart by itself after this long; nil holds it until a client writes false.
    public var rejectPulse: Duration?

    public init() {}
}

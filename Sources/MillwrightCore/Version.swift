/// The release this build is, as nodes report it to each other (`GET /v1/cluster`).
public enum MillwrightVersion {
    public static let current = "0.3.0"
}

/// Every CMMS kind Millwright speaks, the config block its options go in, and the options it
/// reads, so a typo in a plant's file (`maximo: { siteid: … }`) is refused at start with
/// "did you mean" instead of being ignored until the first work order fails.
public struct CMMSKind: Sendable, Equatable {
    /// `kind:` in the config.
    public var kind: String
    /// The mapping that carries its options (`sap:` for `sap-pm`).
    public var block: String
    /// Option keys it reads; a key given as `<name>_env` reads the value from the environment.
    public var options: [String]
    /// Options whose value is a secret and so may only come from the environment.
    public var secrets: [String] = []
}

public enum CMMSKinds {
    /// Read by every connector: priority and status mapping, assignees, the upload limit.
    public static let commonOptions = ["priority_map", "status_map", "users", "attachment_limit_bytes"]

    public static let all: [CMMSKind] = [
        CMMSKind(kind: "sandbox", block: "sandbox", options: []),
        CMMSKind(kind: "webhook", block: "webhook", options: [], secrets: ["secret"]),
        CMMSKind(kind: "sap-pm", block: "sap", options: [
            "plant", "notification_type", "technical_object", "planner_group", "work_center", "work_center_plant", "reported_by",
            "coding_group", "coding_code", "timezone", "client", "create_order", "order_type", "attachment_object_type",
            "attachment_service", "notification_service", "order_service", "false_positive_code_group", "false_positive_code"]),
        CMMSKind(kind: "maximo", block: "maximo", options: [
            "site", "org", "object_structure", "api_path", "reference_field", "worktype", "doc_type"]),
        CMMSKind(kind: "maintainx", block: "maintainx", options: [
            "part_key", "organization_id", "work_order_type", "categories", "template_id", "asset_map", "location_map", "location_id",
            "reference_field", "lookup_window", "lookup_depth", "false_positive_category"]),
        CMMSKind(kind: "upkeep", block: "upkeep", options: ["category", "asset_map", "location_map", "lookup_depth"]),
        CMMSKind(kind: "limble", block: "limble", options: ["location_id", "location_map", "asset_map", "task_type", "due_in", "lookup_depth"]),
        CMMSKind(kind: "fiix", block: "fiix", options: ["site_id", "status_id", "maintenance_type_id", "asset_map"]),
        CMMSKind(kind: "oracle-fusion", block: "oracle", options: [
            "organization", "work_order_type", "work_order_subtype", "rest_version", "attachment_category"]),
        CMMSKind(kind: "hxgn-eam", block: "hxgn", options: [
            "tenant", "organization", "department", "status", "type", "comments_path", "comment_language"]),
    ]

    public static var names: [String] { all.map(\.kind) }
    public static var blocks: [String] { all.map(\.block) }

    public static func named(_ kind: String) -> CMMSKind? { all.first { $0.kind == kind } }

    /// Every key allowed in this kind's block (secrets as `<name>_env`).
    public static func allowedKeys(_ k: CMMSKind) -> [String] {
        k.options + commonOptions + k.secrets.map { $0 + "_env" }
    }
}

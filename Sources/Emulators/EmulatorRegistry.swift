import Hummingbird

/// Every CMMS emulator `millwright emulate KIND` can run, with what it covers (shown in
/// `--help`), keyed by the kind names of `CMMSRegistry` in Connectors. The two lists stay
/// apart because this module must not import connector code (an emulator that shared it could
/// not catch the connector's mistakes); `RegistryTests` holds them to the same kinds. Add a
/// line here for each new emulator. `webhook` has none: its receiver is the plant's own code.
public enum EmulatorRegistry {
    public struct Entry: Sendable {
        public var kind: String
        public var covers: String
        public var router: @Sendable (EmulatorState) -> Hummingbird.Router<BasicRequestContext>
    }

    /// Every emulator also has `/_emulator/work-orders` (what it received) and
    /// `POST /_emulator/work-orders/{id}/complete` (a technician completing one with a closure code,
    /// notes and a photo, served back in the system's own shape).
    public static let all: [Entry] = [
        Entry(kind: "sandbox", covers: "Millwright's reference CMMS: create, lookup by external reference, status read/change, notes, attachments; Bearer auth",
              router: SandboxEmulator.router),
        Entry(kind: "sap-pm", covers: "SAP S/4HANA PM OData V2: API_MAINTNOTIFICATION (CSRF token + session cookie, create validated against the EDMX, $filter lookup, $select, PATCH with If-Match, SetMaintNotifToInProcess/CompleteMaintNotification), API_MAINTENANCEORDER create, API_CV_ATTACHMENT_SRV upload, GetAllOriginals and $value download; long text with entry headers; Basic auth; SAP error format",
              router: SAPPMEmulator.router),
        Entry(kind: "maximo", covers: "IBM Maximo JSON REST API: /maximo/api/os/mxapiwodetail create (properties header, transactionid → 409 on repeat), field validation, oslc.where/oslc.select queries, PATCH via x-method-override (status, worklog), doclinks upload, list and download, worklog and problemcode on read; whoami; apikey or maxauth; Maximo error format",
              router: MaximoEmulator.router),
        Entry(kind: "maintainx", covers: "MaintainX REST v1: POST /v1/workorders validated against the OpenAPI request schema, list/get (status and assignee filters, cursor paging), PATCH status, comments (post and list), PUT attachments with file links, GET /v1/parts and /v1/users (a small demo storeroom); Bearer + x-organization-id; X-Rate-Limit-* headers and 429 + Retry-After (60 requests per 60 s)",
              router: MaintainXEmulator.router),
        Entry(kind: "upkeep", covers: "UpKeep API v2: /api/v2/auth session tokens (expiry), work-order create/list/get (files and image links, category, dateCompleted), PATCH status or multipart image; UpKeep error shape",
              router: UpKeepEmulator.router),
        Entry(kind: "fiix", covers: "Fiix RPC /api/: HMAC-signed text/plain requests, FindRequest/FindByIdRequest/AddRequest/ChangeRequest on Priority, WorkOrderStatus, WorkOrder, WorkOrderAsset, WorkOrderUser, FileContents + File (base64 upload); Fiix error objects",
              router: FiixEmulator.router),
        Entry(kind: "oracle-fusion", covers: "Oracle Fusion Maintenance maintenanceWorkOrders REST: create with Upsert-Mode, q= queries, PATCH status, attachments child (base64 FILE); Basic auth",
              router: OracleMaintenanceEmulator.router),
        Entry(kind: "limble", covers: "Limble API v2 tasks: create (documented fields, name/location/due/type required, typed, assignment), list by tasks/locations, PATCH statusID/dateCompleted, comments, PUT image (multipart JPEG/PNG/GIF ≤ 50 MB); Basic client id/secret",
              router: LimbleEmulator.router),
        Entry(kind: "hxgn-eam", covers: "HxGN EAM /axis/restservices/workorders: tenant + organization headers, create in EAM record structure (duplicate JOBNUM rejected), read by JOBNUM#ORG, PUT status; Basic auth; ErrorAlert format",
              router: HxGNEAMEmulator.router),
    ]

    public static func entry(_ kind: String) -> Entry? { all.first { $0.kind == kind } }
}

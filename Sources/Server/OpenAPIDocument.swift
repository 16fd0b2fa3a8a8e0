/// The API's OpenAPI 3.1 document, served at `GET /openapi.yaml`. `OpenAPITests` hold it
/// to the routes the server registers, both ways.
public enum OpenAPIDocument {
    public static let yaml = #"""
openapi: 3.1.0
info:
  title: Millwright API
  version: "1.0"
  description: |
    AI-vision defect detections in, complete CMMS work orders out.
    Every error is an RFC 9457 problem document (application/problem+json).
    Authenticate with `Authorization: Bearer <api key>`; roles: ingest, viewer, operator, admin.
    A path asked with a method it does not take is a 405 problem with an `Allow` header.
    Every list is read in pages, newest first: pass the `next_cursor` of one page as `cursor`
    (or follow the RFC 8288 `Link: <...>; rel="next"` header) until a page comes without one.
    Treat a cursor as opaque; another list's cursor is a 400 problem. Any request can be
    answered 503 (too-many-connections) when the server is past `server.max_connections`.
security:
  - bearer: []
paths:
  /healthz:
    get:
      summary: Liveness (no authentication)
      security: []
      responses:
        "200": { description: The process is up }
        "503": { $ref: "#/components/responses/Unavailable" }
  /readyz:
    get:
      summary: Readiness - store and every CMMS reachable, MQTT broker connected (when configured)
      responses:
        "200": { description: Ready, content: { application/json: { schema: { type: object } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503":
          description: Not ready (the JSON body names what failed), or past server.max_connections (a problem document)
          content:
            application/json: { schema: { type: object } }
            application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } }
  /metrics:
    get:
      summary: Prometheus metrics
      responses:
        "200": { description: Text exposition format, content: { text/plain: { schema: { type: string } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /openapi.yaml:
    get:
      summary: This document
      responses:
        "200": { description: OpenAPI 3.1 YAML, content: { application/yaml: {} } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/detections:
    post:
      summary: Submit one detection or a batch (role ingest)
      description: |
        Native schema by default; `format` selects an adapter, otherwise it is auto-detected.
        Answers 202 only after the accepted detections are durably committed. Good items are
        kept, bad ones reported in `rejected`; when none is good the answer is 422.
      parameters:
        - { name: format, in: query, schema: { type: string, enum: [auto, native, deepstream, frigate, ultralytics, roboflow, landinglens, coco] } }
        - { name: camera, in: query, description: Camera id for formats that carry none, schema: { type: string } }
        - { name: assumed_confidence, in: query, description: Detector confidence for items that carry none (DeepStream minimal schema), schema: { type: number, minimum: 0, maximum: 1 } }
        - { name: Idempotency-Key, in: header, schema: { type: string } }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf:
                - $ref: "#/components/schemas/Detection"
                - { type: array, maxItems: 1000, description: "An empty array is accepted and changes nothing", items: { $ref: "#/components/schemas/Detection" } }
      responses:
        "202":
          description: Committed
          content:
            application/json:
              schema: { $ref: "#/components/schemas/IngestResponse" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
    get:
      summary: List detections, newest first by detection time (a page at a time)
      parameters:
        - { name: camera, in: query, schema: { type: string } }
        - { name: status, in: query, schema: { $ref: "#/components/schemas/DetectionStatus" } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
        - $ref: "#/components/parameters/limit"
        - $ref: "#/components/parameters/cursorDetections"
      responses:
        "200": { $ref: "#/components/responses/DetectionPage" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/detections/{id}:
    get:
      summary: One detection with its decision
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "200": { description: The detection, content: { application/json: { schema: { $ref: "#/components/schemas/DetectionView" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/incidents:
    get:
      summary: List incidents, newest first by opening time (a page at a time)
      parameters:
        - { name: state, in: query, schema: { type: string, enum: [open, closed] } }
        - $ref: "#/components/parameters/limit"
        - $ref: "#/components/parameters/cursorIncidents"
      responses:
        "200": { $ref: "#/components/responses/IncidentPage" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/incidents/{id}:
    get:
      summary: One incident with its detections, severity breakdown, work order and timeline
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "200": { description: The incident, content: { application/json: { schema: { $ref: "#/components/schemas/IncidentView" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/incidents/{id}/feedback:
    post:
      summary: A verdict on the incident (role operator)
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [verdict]
              properties:
                verdict: { type: string, enum: [false_positive, confirmed] }
                by: { type: [string, "null"], description: "Free text; with a signature the signer's user name is recorded instead" }
                note: { type: [string, "null"] }
                signature: { $ref: "#/components/schemas/Signature" }
      responses:
        "200": { description: The incident after the verdict, content: { application/json: { schema: { $ref: "#/components/schemas/IncidentView" } } } }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/work-orders:
    get:
      summary: List work orders, newest first by creation time (shadow=true shows what shadow mode would have created)
      parameters:
        - { name: shadow, in: query, schema: { type: boolean } }
        - { name: phase, in: query, schema: { type: string, enum: [pending, sending, verifying, waiting, delivered, dead_letter, shadow, quarantined, needs_review] } }
        - $ref: "#/components/parameters/limit"
        - $ref: "#/components/parameters/cursorWorkOrders"
      responses:
        "200": { $ref: "#/components/responses/WorkOrderPage" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/work-orders/{id}:
    get:
      operationId: getWorkOrder
      summary: One work order - CMMS id, status, delivery attempts, payload sent
      parameters: [ { name: id, in: path, required: true, description: Work order id or Millwright reference, schema: { type: string } } ]
      responses:
        "200": { description: The work order, content: { application/json: { schema: { $ref: "#/components/schemas/WorkOrderView" } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/work-orders/{id}/redrive:
    post:
      operationId: redriveWorkOrder
      summary: Send a dead-lettered, quarantined or needs-review work order again (role admin); the CMMS is asked first whether it has it
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      requestBody:
        required: false
        description: With compliance.part11 the body must carry the admin's electronic signature
        content:
          application/json:
            schema:
              type: object
              properties:
                signature: { $ref: "#/components/schemas/Signature" }
      responses:
        "202": { description: Queued again; the CMMS is asked first whether it already has it, content: { application/json: { schema: { $ref: "#/components/schemas/WorkOrderView" } } } }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409": { $ref: "#/components/responses/Conflict" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/work-orders/{id}/ack:
    post:
      summary: Acknowledge a work order (role operator); stops its escalation chain
      description: 'Optional body `{"by": "T-114"}`; without it the name of the calling key is recorded. A second acknowledgement changes nothing and says who was first.'
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      requestBody:
        required: false
        content:
          application/json:
            schema:
              type: object
              properties:
                by: { type: string, minLength: 1, maxLength: 200 }
                signature: { $ref: "#/components/schemas/Signature" }
      responses:
        "200":
          description: Acknowledged (changed) or already acknowledged (not changed)
          content:
            application/json:
              schema:
                type: object
                required: [work_order_id, acknowledged_at, acknowledged_by, changed]
                properties:
                  work_order_id: { type: string }
                  acknowledged_at: { type: string, format: date-time }
                  acknowledged_by: { type: string }
                  changed: { type: boolean }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/technicians:
    get:
      summary: The roster by technician id (a page at a time), with each technician's shift state, qualifications and open Millwright work orders (load)
      parameters:
        - $ref: "#/components/parameters/limit"
        - $ref: "#/components/parameters/cursorTechnicians"
      responses:
        "200":
          description: "`items` per technician; `queues` (on every page) holds work assigned to fallback queues"
          headers: { Link: { $ref: "#/components/headers/Link" } }
          content:
            application/json:
              schema:
                type: object
                required: [items, queues]
                properties:
                  items: { type: array, items: { type: object, required: [id, name], properties: { id: { type: string }, name: { type: string } } } }
                  next_cursor: { $ref: "#/components/schemas/NextCursor" }
                  queues: { type: object, additionalProperties: { type: array, items: { type: object } } }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/inventory/reservations:
    get:
      summary: Parts pre-staged or short per incident, newest first (a page at a time)
      parameters:
        - { name: status, in: query, schema: { type: string, enum: [reserved, short, unknown, released, consumed] }, description: "Default: everything still held or short" }
        - $ref: "#/components/parameters/limit"
        - $ref: "#/components/parameters/cursorReservations"
      responses:
        "200":
          description: "`items`: sku, qty, status, location, free_now, incident, work order"
          headers: { Link: { $ref: "#/components/headers/Link" } }
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items:
                    type: array
                    items:
                      type: object
                      required: [incident_id, sku, qty, status, asset, defect_class, at]
                      properties:
                        incident_id: { type: string }
                        work_order_id: { type: string }
                        reference: { type: string }
                        asset: { type: string }
                        defect_class: { type: string }
                        sku: { type: string }
                        qty: { type: integer }
                        status: { type: string, enum: [reserved, short, unknown, released, consumed] }
                        location: { type: string }
                        free_now: { type: integer }
                        at: { type: string, format: date-time }
                        settled_at: { type: string, format: date-time }
                  next_cursor: { $ref: "#/components/schemas/NextCursor" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/evidence/{id}:
    get:
      operationId: getEvidence
      summary: The annotated evidence image (JPEG) by SHA-256 or incident id, or a thumbnail of it
      description: With an API key (viewer and up), or without one through a signed, expiring link (`exp`, `sig`). With `w`, a copy scaled to that width (never enlarged), decoded and encoded afresh; at most two are made at once and sixteen wait, past that 503 with Retry-After.
      security: [ { bearer: [] }, {} ]
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
        - { name: w, in: query, description: "Thumbnail width in pixels; the height keeps the proportions", schema: { type: integer, minimum: 32, maximum: 1920 } }
        - { name: exp, in: query, description: "Signed link: its expiry, as the link carries it (Unix seconds); not read with an API key", schema: { type: string } }
        - { name: sig, in: query, description: "Signed link: its signature; not read with an API key", schema: { type: string } }
      responses:
        "200": { description: JPEG, content: { image/jpeg: { schema: { type: string, contentMediaType: image/jpeg } } } }
        "304": { description: Not modified (ETag is the SHA-256, with `-w<width>` for a thumbnail) }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/events:
    get:
      operationId: streamEvents
      summary: The board's news as Server-Sent Events (viewer and up)
      description: |
        Events `incident` (id, camera, state, detail), `work_order` (id, incident_id, reference,
        phase, cmms_id) and `detections` (counts by status since the last one, at most one a
        second), each with an id `<boot>.<seq>`. Send the last id seen as `Last-Event-ID` to get
        what was missed while this node still holds it (its last 512 events); otherwise the
        stream starts with a `reset` event: reload the lists. A comment line every 15 s keeps a
        quiet stream open. At most 32 streams per node; past that 503 with Retry-After.
      parameters:
        - { name: Last-Event-ID, in: header, description: "The id of the last event received; one this node cannot continue from (over 64 bytes, malformed, another run's) starts with reset", schema: { type: string } }
      responses:
        "200": { description: An endless event stream, content: { text/event-stream: { schema: { type: string } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/stats:
    get:
      summary: Counts by detection status and work-order phase, detection-to-work-order latency
      responses:
        "200": { description: Figures from the store, content: { application/json: { schema: { type: object } } } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cluster:
    get:
      summary: The gateway nodes sharing this database, their heartbeats and the work orders each holds under a lease
      responses:
        "200":
          description: This node and the live nodes (heard from within the last 15 s, or half a lease if longer)
          content:
            application/json:
              schema:
                type: object
                required: [node, shared, lease_seconds, nodes]
                properties:
                  node: { type: string, description: "This node's id (node_id; default host name and process id)" }
                  shared: { type: boolean, description: "The database is shared by several nodes (PostgreSQL)" }
                  lease_seconds: { type: number }
                  nodes:
                    type: array
                    items:
                      type: object
                      required: [node_id, version, started_at, heartbeat_at, lag_seconds, leases, is_self]
                      properties:
                        node_id: { type: string }
                        version: { type: string }
                        started_at: { type: string, format: date-time }
                        heartbeat_at: { type: string, format: date-time }
                        lag_seconds: { type: number, description: "Seconds since its last heartbeat, on the answering node's clock" }
                        leases: { type: integer, description: Work orders it holds in flight }
                        lease_until: { type: string, format: date-time, description: When the last of those leases runs out }
                        is_self: { type: boolean }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cmms/check:
    get:
      summary: What `millwright check-connection` reports - per CMMS the connection checks, then every mapped asset, location and user read from the CMMS (admin; calls each CMMS, at most 500 references per system)
      responses:
        "200":
          description: One entry per configured CMMS
          content:
            application/json:
              schema:
                type: object
                required: [cmms]
                properties:
                  cmms:
                    type: array
                    items:
                      type: object
                      required: [name, kind, checks, references, missing]
                      properties:
                        name: { type: string }
                        kind: { type: string }
                        checks:
                          type: array
                          items:
                            type: object
                            required: [step, ok, detail]
                            properties:
                              step: { type: string }
                              ok: { type: boolean }
                              detail: { type: string }
                              fix: { type: string }
                        references:
                          type: array
                          items:
                            type: object
                            required: [kind, id, origin, status]
                            properties:
                              kind: { type: string, enum: [asset, location, user] }
                              id: { type: string, description: "Our value, as the configuration has it" }
                              asked: { type: string, description: "The id asked of the CMMS, when the connector translates ours (asset_map)" }
                              origin: { type: string, description: "Where the configuration names it: register file:line, or config line and camera, or users entry" }
                              status: { type: string, enum: [exists, missing, unknown, not checkable] }
                              detail: { type: string, description: "The CMMS's words for missing; why for unknown and not checkable" }
                        missing: { type: integer, description: References the CMMS said it does not have }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/capture/{camera}/relearn:
    post:
      summary: The capture camera's reference detector learns its reference again from its next learn_frames frames, raising nothing meanwhile (admin)
      parameters: [ { name: camera, in: path, required: true, schema: { type: string } } ]
      responses:
        "202":
          description: Relearning; the detector's state is also on /readyz as capture:<camera>:detector
          content:
            application/json:
              schema:
                type: object
                required: [camera, detector]
                properties:
                  camera: { type: string }
                  detector: { type: string, description: "learning N/M, or ready" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409": { $ref: "#/components/responses/Conflict" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /:
    get:
      summary: The planner's board (an HTML shell; its script asks for an API key and reads the rest with it)
      security: []
      responses:
        "200": { description: HTML, content: { text/html: { schema: { type: string } } } }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/login:
    post:
      summary: Log in a named user (millwright users add); returns a session token used as a Bearer token
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [user, password]
              properties:
                user: { type: string, maxLength: 64 }
                password: { type: string, maxLength: 1024 }
                totp: { type: [string, "null"], description: "The 6-digit one-time code, when the user has a second factor" }
      responses:
        "200":
          description: Logged in
          content:
            application/json:
              schema:
                type: object
                required: [token, expires_at, user, full_name, role, idle_timeout_s]
                properties:
                  token: { type: string }
                  expires_at: { type: string, format: date-time, description: "When the session ends unless used; each request extends it (compliance.session_idle)" }
                  user: { type: string }
                  full_name: { type: string }
                  role: { type: string, enum: [viewer, operator, admin] }
                  idle_timeout_s: { type: integer }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { description: "login-failed: wrong user, password or one-time code (counted; three within 15 minutes lock the user)", content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } } }
        "403": { description: "account-inactive: locked or disabled", content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } } }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/logout:
    post:
      summary: End this session (the Bearer token from /v1/login; an API key is refused with 403 not-a-session)
      responses:
        "204": { description: Logged out }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/audit:
    get:
      summary: The audit trail, oldest first, by subject, kind and time (role admin)
      parameters:
        - { name: subject, in: query, schema: { type: string, maxLength: 256 } }
        - { name: kind, in: query, schema: { type: string, maxLength: 256 } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
        - { name: until, in: query, schema: { type: string, format: date-time } }
        - $ref: "#/components/parameters/cursorAudit"
        - $ref: "#/components/parameters/limit"
      responses:
        "200":
          description: Audit records with their hashes
          headers: { Link: { $ref: "#/components/headers/Link" } }
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  next_cursor: { type: string }
                  items:
                    type: array
                    items:
                      type: object
                      required: [seq, at, kind, subject, data, prev_hash, hash]
                      properties:
                        seq: { type: integer }
                        at: { type: string, format: date-time }
                        kind: { type: string }
                        subject: { type: string }
                        data: { type: object }
                        prev_hash: { type: string }
                        hash: { type: string }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/analytics/quality:
    get:
      summary: Quality per camera, defect class, model or zone since a time (role viewer)
      description: "Verdicts are the latest feedback per incident, from the API or from a CMMS closure mapped to false positive. Precision is confirmed / (confirmed + false positive) with a 95 % Wilson interval. since defaults to 30 days ago; earlier than 366 days ago reads as 366 days ago. At most 200000 detections (the newest) are counted."
      parameters:
        - { name: by, in: query, schema: { type: string, enum: [camera, defect_class, model, zone], default: camera } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
      responses:
        "200":
          description: Groups and a time series
          content:
            application/json:
              schema:
                type: object
                required: [by, since, until, groups, series, detections_truncated]
                properties:
                  by: { type: string, enum: [camera, defect_class, model, zone] }
                  since: { type: string, format: date-time }
                  until: { type: string, format: date-time }
                  detections_truncated: { type: boolean }
                  groups:
                    type: array
                    items:
                      type: object
                      required: [key, detections, incidents, confirmed, false_positive, unjudged]
                      properties:
                        key: { type: string }
                        detections: { type: integer, minimum: 0 }
                        incidents: { type: integer, minimum: 0 }
                        confirmed: { type: integer, minimum: 0 }
                        false_positive: { type: integer, minimum: 0 }
                        unjudged: { type: integer, minimum: 0 }
                        precision: { $ref: "#/components/schemas/Proportion" }
                        median_seconds_to_acknowledge: { type: number, minimum: 0 }
                        median_seconds_to_complete: { type: number, minimum: 0 }
                  series:
                    type: array
                    items:
                      type: object
                      required: [start, detections, incidents, confirmed, false_positive]
                      properties:
                        start: { type: string, format: date-time }
                        detections: { type: integer, minimum: 0 }
                        incidents: { type: integer, minimum: 0 }
                        confirmed: { type: integer, minimum: 0 }
                        false_positive: { type: integer, minimum: 0 }
                        precision: { type: number, minimum: 0, maximum: 1 }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/analytics/simulate:
    post:
      summary: Replay stored detections with proposed thresholds through the incident rules (role operator)
      description: "Replays the detections since `since` (default 30 days ago) once with the configured rules and once with the proposals (a camera's proposal wins over its class's), and compares. More than 200000 detections since then is refused with 422 (too-many-detections)."
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [proposals]
              properties:
                since: { type: string, format: date-time }
                proposals:
                  type: array
                  minItems: 1
                  maxItems: 200
                  items:
                    type: object
                    additionalProperties: false
                    required: [defect_class]
                    properties:
                      defect_class: { type: string, minLength: 1, maxLength: 200 }
                      camera: { type: string, minLength: 1, maxLength: 200 }
                      min_confidence: { type: number, minimum: 0, maximum: 1 }
                      confirm:
                        type: object
                        additionalProperties: false
                        properties:
                          detections: { type: integer, minimum: 1, maximum: 1000 }
                          within: { type: string, pattern: "^[1-9][0-9]{0,2}(ms|s|m)$", description: "1 to 999 followed by ms, s or m, e.g. 10s" }
      responses:
        "200":
          description: The proposal against today's rules over the same detections
          content:
            application/json:
              schema:
                type: object
                required: [since, until, result]
                properties:
                  since: { type: string, format: date-time }
                  until: { type: string, format: date-time }
                  result: { $ref: "#/components/schemas/SimulationResult" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/exports/training:
    get:
      summary: A zip of judged detections' frames with COCO or YOLO labels and a manifest (role operator)
      description: "Detections of incidents with a verdict since `since` (default 30 days ago) whose frame is stored; false positives are negative samples (no annotation, or an empty YOLO label file), and so are completion photos read back from the CMMS since `since` (the repaired asset; not with verdict=confirmed). At most `limit` items and 2 GiB; manifest.json says what was left out."
      parameters:
        - { name: format, in: query, schema: { type: string, enum: [coco, yolo], default: coco } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
        - { name: verdict, in: query, schema: { type: string, enum: [confirmed, false_positive, all], default: all } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 50000, default: 10000 } }
      responses:
        "200":
          description: The archive, streamed
          content: { application/zip: { schema: { type: string, format: binary } } }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "409": { $ref: "#/components/responses/Conflict" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/shadow/manual-log:
    post:
      summary: Import the plant's manual inspection log as CSV, for the shadow report (role operator)
      description: "RFC 4180 CSV, UTF-8. The first line names the columns date, asset, defect and found_by in any order, and optionally notes; other columns are ignored and listed in the answer. date is a day (2026-11-29) or a time (ISO 8601 with a zone, or 2026-11-29 08:15 in site.timezone). At most 50000 rows and server.max_body_bytes. A file with any problem is refused whole with 422 (invalid-manual-log), each problem in `errors` with its line as `index` and its column as `field`; a row already imported (same time, asset, defect and found_by) is counted as a duplicate and not stored again."
      requestBody:
        required: true
        content:
          text/csv: { schema: { type: string } }
          text/plain: { schema: { type: string } }
      responses:
        "200":
          description: The file was imported
          content:
            application/json:
              schema:
                type: object
                required: [rows, imported, duplicates, ignored_columns, file_sha256]
                properties:
                  rows: { type: integer, minimum: 0 }
                  imported: { type: integer, minimum: 0 }
                  duplicates: { type: integer, minimum: 0 }
                  ignored_columns: { type: array, items: { type: string } }
                  file_sha256: { type: string, pattern: "^[0-9a-f]{64}$" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "422": { $ref: "#/components/responses/Unprocessable" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/shadow/report:
    get:
      summary: What shadow mode would have created against what people found (role viewer)
      description: "Each manual finding in [since, until] is matched to the incident on the same asset and defect class first seen closest to it, at most max_lead before or max_lag after. Matches where Millwright was first (lead_seconds > 0) are in caught_first; the rest in found_by_people_first. A finding without a match is missed, with the reason (not_watched, not_detected or not_confirmed with the detections by status); an incident first seen in the period that no finding matched is an extra, with its verdict."
      parameters:
        - { name: since, in: query, description: "ISO 8601; default 30 days before until, and at most a year before it; after until is 400", schema: { type: string, format: date-time } }
        - { name: until, in: query, description: "ISO 8601; default and at most now", schema: { type: string, format: date-time } }
        - { name: max_lead, in: query, description: "How long before a finding an incident may be first seen (a duration up to 90d; default 14d)", schema: { type: string, default: 14d } }
        - { name: max_lag, in: query, description: "How long after (default 2d)", schema: { type: string, default: 2d } }
        - { name: mode, in: query, description: "shadow: incidents decided in shadow mode; live: incidents sent to the CMMS", schema: { type: string, enum: [shadow, live], default: shadow } }
      responses:
        "200":
          description: The report
          content:
            application/json:
              schema:
                type: object
                required: [since, until, mode, max_lead_seconds, max_lag_seconds, summary, caught_first, found_by_people_first, missed, extras, truncated]
                properties:
                  since: { type: string, format: date-time }
                  until: { type: string, format: date-time }
                  mode: { type: string, enum: [shadow, live] }
                  max_lead_seconds: { type: number, minimum: 0 }
                  max_lag_seconds: { type: number, minimum: 0 }
                  truncated: { type: boolean }
                  summary:
                    type: object
                    required: [findings, matched, caught_first, missed, extras, extras_confirmed, extras_false_positive]
                    properties:
                      findings: { type: integer, minimum: 0 }
                      matched: { type: integer, minimum: 0 }
                      caught_first: { type: integer, minimum: 0 }
                      missed: { type: integer, minimum: 0 }
                      extras: { type: integer, minimum: 0 }
                      extras_confirmed: { type: integer, minimum: 0 }
                      extras_false_positive: { type: integer, minimum: 0 }
                      recall: { type: number, minimum: 0, maximum: 1 }
                      median_lead_seconds: { type: number }
                  caught_first: { type: array, items: { $ref: "#/components/schemas/ShadowMatch" } }
                  found_by_people_first: { type: array, items: { $ref: "#/components/schemas/ShadowMatch" } }
                  missed:
                    type: array
                    items:
                      type: object
                      required: [finding, reason, detections]
                      properties:
                        finding: { $ref: "#/components/schemas/ManualFinding" }
                        reason: { type: string, enum: [not_watched, not_detected, not_confirmed] }
                        detections: { type: object, additionalProperties: { type: integer, minimum: 0 } }
                  extras:
                    type: array
                    items:
                      type: object
                      required: [incident_id, asset, defect_class, camera, first_seen]
                      properties:
                        incident_id: { type: string }
                        asset: { type: string }
                        defect_class: { type: string }
                        camera: { type: string }
                        first_seen: { type: string, format: date-time }
                        verdict: { type: string, enum: [confirmed, false_positive] }
        "400": { $ref: "#/components/responses/BadRequest" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer, description: "An API key from auth.api_keys, or a named user's session token from POST /v1/login; its role decides what it may do" }
  parameters:
    limit: { name: limit, in: query, description: Items per page (default 100), schema: { type: integer, minimum: 1, maximum: 1000, default: 100 } }
\#(ListCursor.openAPIParameters)  headers:
    Link:
      description: 'RFC 8288 link to the next page, `<path?query&cursor=...>; rel="next"` (the same query, cursor replaced); absent on the last page'
      schema: { type: string }
  responses:
    Problem:
      description: RFC 9457 problem document
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
    BadRequest:
      description: The query or body cannot be read (invalid-query, invalid-cursor, invalid-json, unknown-format)
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Unauthorized:
      description: No API key, or not a valid one
      headers: { WWW-Authenticate: { schema: { type: string } } }
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Forbidden:
      description: The key's role may not do this (or a signed link is expired or not valid)
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    NotFound:
      description: No such resource
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Conflict:
      description: The resource is not in a state that allows this
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    TooLarge:
      description: The body or batch is past its limit
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Unprocessable:
      description: Well-formed but not acceptable; `errors` names the items and fields at fault
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Unavailable:
      description: Past server.max_connections (too-many-connections); retry after `Retry-After` seconds
      headers: { Retry-After: { schema: { type: integer } } }
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    DetectionPage:
      description: A page of detections
      headers: { Link: { $ref: "#/components/headers/Link" } }
      content:
        application/json:
          schema:
            type: object
            required: [items]
            properties:
              items: { type: array, items: { $ref: "#/components/schemas/DetectionView" } }
              next_cursor: { $ref: "#/components/schemas/NextCursor" }
    IncidentPage:
      description: A page of incidents
      headers: { Link: { $ref: "#/components/headers/Link" } }
      content:
        application/json:
          schema:
            type: object
            required: [items]
            properties:
              items: { type: array, items: { $ref: "#/components/schemas/IncidentView" } }
              next_cursor: { $ref: "#/components/schemas/NextCursor" }
    WorkOrderPage:
      description: A page of work orders
      headers: { Link: { $ref: "#/components/headers/Link" } }
      content:
        application/json:
          schema:
            type: object
            required: [items]
            properties:
              items: { type: array, items: { $ref: "#/components/schemas/WorkOrderView" } }
              next_cursor: { $ref: "#/components/schemas/NextCursor" }
  schemas:
    Proportion:
      type: object
      required: [value, low, high]
      properties:
        value: { type: number, minimum: 0, maximum: 1 }
        low: { type: number, minimum: 0, maximum: 1 }
        high: { type: number, minimum: 0, maximum: 1 }
    ManualFinding:
      type: object
      required: [found_at, date_only, asset, defect_class, found_by, line]
      properties:
        found_at: { type: string, format: date-time }
        date_only: { type: boolean, description: "The log gave a day: found_at is its start in site.timezone" }
        asset: { type: string }
        defect_class: { type: string }
        found_by: { type: string }
        notes: { type: string }
        line: { type: integer, minimum: 1 }
    ShadowMatch:
      type: object
      required: [finding, incident_id, camera, first_seen, lead_seconds]
      properties:
        finding: { $ref: "#/components/schemas/ManualFinding" }
        incident_id: { type: string }
        camera: { type: string }
        first_seen: { type: string, format: date-time }
        lead_seconds: { type: number, description: "How long before the person Millwright first saw it (negative: after; 0: the same day of a date-only finding)" }
    SimulationResult:
      type: object
      required: [detections_replayed, work_orders_now, work_orders_proposed, work_orders_avoided, work_orders_created, false_positives_avoided, true_defects_lost, lost_incidents]
      properties:
        detections_replayed: { type: integer, minimum: 0 }
        work_orders_now: { type: integer, minimum: 0 }
        work_orders_proposed: { type: integer, minimum: 0 }
        work_orders_avoided: { type: integer, minimum: 0 }
        work_orders_created: { type: integer, minimum: 0 }
        false_positives_avoided: { type: integer, minimum: 0 }
        true_defects_lost: { type: integer, minimum: 0 }
        lost_incidents: { type: array, maxItems: 100, items: { type: string } }
        median_seconds_to_work_order_now: { type: number, minimum: 0 }
        median_seconds_to_work_order_proposed: { type: number, minimum: 0 }
        median_seconds_to_work_order_change: { type: number }
    Signature:
      type: object
      description: "An electronic signature (compliance.part11): the signer's password is checked again at the moment of signing"
      required: [user, password, meaning]
      properties:
        user: { type: string, maxLength: 64 }
        password: { type: string, maxLength: 1024 }
        meaning: { type: string, enum: [reviewed, approved, rejected, acknowledged, responsible] }
    NextCursor:
      type: string
      description: Pass as `cursor` for the next page; absent on the last page
    Problem:
      type: object
      required: [type, title, status, detail]
      properties:
        type: { type: string }
        title: { type: string }
        status: { type: integer }
        detail: { type: string }
        instance: { type: string }
        request_id: { type: string }
        errors:
          type: array
          items:
            type: object
            required: [problem]
            properties: { index: { type: integer }, field: { type: string }, problem: { type: string } }
    DetectionStatus:
      type: string
      enum: [below_threshold, pending_confirmation, confirmed, suppressed_repeat, orphaned, shadow]
    Identifier:
      type: string
      maxLength: 128
      pattern: '^[^\x00-\x1F\x7F-\x9F\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$'
      description: At most 128 bytes of UTF-8; no control, line-separator or bidi characters
    OptionalIdentifier:
      anyOf: [ { $ref: "#/components/schemas/Identifier" }, { type: "null" } ]
    NonBlankIdentifier:
      type: string
      minLength: 1
      maxLength: 128
      pattern: '^[^\x00-\x1F\x7F-\x9F\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$'
      description: Not blank; at most 128 bytes of UTF-8; no control, line-separator or bidi characters
    Detection:
      type: object
      description: Optional fields may also be null (the same as leaving them out).
      required: [camera_id, timestamp, defect_class, confidence]
      properties:
        detection_id:
          description: Idempotency key (a number is taken as its decimal text)
          anyOf: [ { $ref: "#/components/schemas/NonBlankIdentifier" }, { type: number }, { type: "null" } ]
        camera_id: { $ref: "#/components/schemas/NonBlankIdentifier" }
        timestamp:
          description: Not before 2000-01-01 and at most 5 minutes in the future
          anyOf:
            - { type: string, format: date-time }
            - { type: number, minimum: 946684800, description: "Unix seconds, or milliseconds when above 1e11" }
        defect_class: { $ref: "#/components/schemas/NonBlankIdentifier" }
        confidence: { type: number, minimum: 0, maximum: 1 }
        bbox:
          type: [object, "null"]
          required: [x, y, width, height]
          description: In pixels; x + width and y + height at most 100000 and within the image (0.5 px slack) when its size is given
          properties:
            x: { type: number, minimum: 0, maximum: 100000 }
            y: { type: number, minimum: 0, maximum: 100000 }
            width: { type: number, minimum: 0.5, maximum: 100000 }
            height: { type: number, minimum: 0.5, maximum: 100000 }
        image:
          type: [object, "null"]
          properties:
            width: { type: [integer, "null"], minimum: 1, maximum: 50000 }
            height: { type: [integer, "null"], minimum: 1, maximum: 50000 }
            url: { type: [string, "null"], maxLength: 4096, description: At most 4096 bytes of UTF-8; no control characters but line breaks and tabs }
            data_base64: { type: [string, "null"] }
        zone: { $ref: "#/components/schemas/OptionalIdentifier" }
        production_order: { $ref: "#/components/schemas/OptionalIdentifier" }
        shift: { $ref: "#/components/schemas/OptionalIdentifier" }
        tracking_id: { $ref: "#/components/schemas/OptionalIdentifier" }
        model:
          type: [object, "null"]
          properties:
            name: { $ref: "#/components/schemas/OptionalIdentifier" }
            version: { anyOf: [ { $ref: "#/components/schemas/Identifier" }, { type: number }, { type: "null" } ] }
        measurements:
          type: [object, "null"]
          maxProperties: 64
          propertyNames: { $ref: "#/components/schemas/NonBlankIdentifier" }
          additionalProperties: { type: number, minimum: -1000000000, maximum: 1000000000 }
    DetectionView:
      type: object
      required: [id, camera_id, timestamp, received_at, defect_class, confidence, status, reason]
      properties:
        id: { type: string }
        camera_id: { type: string }
        timestamp: { type: string, format: date-time }
        received_at: { type: string, format: date-time }
        defect_class: { type: string }
        confidence: { type: number }
        status: { $ref: "#/components/schemas/DetectionStatus" }
        reason: { type: string }
        asset: { type: string }
        zone: { type: string }
        incident_id: { type: string }
        detection: { type: object }
    IncidentView:
      type: object
      required: [id, asset, defect_class, camera_id, state, opened_at, detection_count, severity, priority]
      properties:
        id: { type: string }
        asset: { type: string }
        defect_class: { type: string }
        zone: { type: string }
        camera_id: { type: string }
        state: { type: string }
        resolution: { type: string }
        shadow: { type: boolean }
        opened_at: { type: string, format: date-time }
        closed_at: { type: string, format: date-time }
        detection_count: { type: integer }
        max_confidence: { type: number }
        severity: { type: integer }
        priority: { type: string }
        work_order: { type: object }
        detections: { type: array, items: { $ref: "#/components/schemas/DetectionView" } }
        timeline: { type: array, items: { type: object } }
        signatures:
          type: array
          description: Electronic signatures on the incident and its work order (21 CFR Part 11 manifestation)
          items:
            type: object
            required: [user, full_name, meaning, action, signed_at, signed_at_local, signs, printed]
            properties:
              user: { type: string }
              full_name: { type: string }
              meaning: { type: string, enum: [reviewed, approved, rejected, acknowledged, responsible] }
              action: { type: string, description: "The audit kind of the signed record (feedback, delivery.redriven, work_order.acknowledged)" }
              signed_at: { type: string, format: date-time }
              signed_at_local: { type: string, description: "The same instant in site.timezone, with its offset and zone name" }
              signs: { type: string, description: "SHA-256 of the signed audit record's content" }
              printed: { type: string, description: "Printed name, user, meaning and both times, as shown to a reader" }
    WorkOrderView:
      type: object
      required: [id, incident_id, reference, cmms, phase, created_at]
      properties:
        id: { type: string }
        incident_id: { type: string }
        reference: { type: string }
        cmms: { type: string }
        cmms_kind: { type: string }
        shadow: { type: boolean }
        phase: { type: string }
        cmms_id: { type: string }
        cmms_status: { type: string }
        attempts: { type: integer }
        created_at: { type: string, format: date-time }
        delivered_at: { type: string, format: date-time }
        payload: { type: object }
        delivery_attempts: { type: array, items: { type: object } }
    IngestResponse:
      type: object
      required: [accepted, rejected, results]
      properties:
        accepted: { type: array, items: { type: string } }
        rejected:
          type: array
          items:
            type: object
            properties: { index: { type: integer }, field: { type: string }, problem: { type: string } }
        results:
          type: array
          items:
            type: object
            properties:
              id: { type: string }
              status: { $ref: "#/components/schemas/DetectionStatus" }
              reason: { type: string }
              incident_id: { type: string }
              duplicate: { type: boolean }
        format: { type: string }
"""#
}

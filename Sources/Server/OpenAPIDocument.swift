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
security:
  - bearer: []
paths:
  /healthz:
    get:
      summary: Liveness (no authentication)
      security: []
      responses:
        "200": { description: The process is up }
  /readyz:
    get:
      summary: Readiness - store and every CMMS reachable, MQTT broker connected (when configured)
      responses:
        "200": { description: Ready }
        "503": { description: Not ready; the body names what failed }
  /metrics:
    get:
      summary: Prometheus metrics
      responses:
        "200": { description: Text exposition format }
  /openapi.yaml:
    get:
      summary: This document
      responses:
        "200": { description: OpenAPI 3.1 YAML }
  /v1/detections:
    post:
      summary: Submit one detection or a batch (role ingest)
      description: |
        Native schema by default; `format` selects an adapter, otherwise it is auto-detected.
        Answers 202 only after the accepted detections are durably committed. Good items are
        kept, bad ones reported in `rejected`; when none is good the answer is 422.
      parameters:
        - { name: format, in: query, schema: { type: string, enum: [native, deepstream, frigate, ultralytics, roboflow, landinglens, coco] } }
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
                - { type: array, maxItems: 1000, items: { $ref: "#/components/schemas/Detection" } }
      responses:
        "202":
          description: Committed
          content:
            application/json:
              schema: { $ref: "#/components/schemas/IngestResponse" }
        "400": { $ref: "#/components/responses/Problem" }
        "401": { $ref: "#/components/responses/Problem" }
        "403": { $ref: "#/components/responses/Problem" }
        "413": { $ref: "#/components/responses/Problem" }
        "422": { $ref: "#/components/responses/Problem" }
    get:
      summary: List detections
      parameters:
        - { name: camera, in: query, schema: { type: string } }
        - { name: status, in: query, schema: { $ref: "#/components/schemas/DetectionStatus" } }
        - { name: since, in: query, schema: { type: string, format: date-time } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 1000 } }
      responses:
        "200": { description: "{items: [...]}" }
        "400": { $ref: "#/components/responses/Problem" }
  /v1/detections/{id}:
    get:
      summary: One detection with its decision
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "200": { description: The detection }
        "404": { $ref: "#/components/responses/Problem" }
  /v1/incidents:
    get:
      summary: List incidents
      parameters:
        - { name: state, in: query, schema: { type: string, enum: [open, closed] } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 1000 } }
      responses:
        "200": { description: "{items: [...]}" }
  /v1/incidents/{id}:
    get:
      summary: One incident with its detections, severity breakdown, work order and timeline
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "200": { description: The incident }
        "404": { $ref: "#/components/responses/Problem" }
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
                by: { type: string }
                note: { type: string }
      responses:
        "200": { description: The incident after the verdict }
        "404": { $ref: "#/components/responses/Problem" }
        "422": { $ref: "#/components/responses/Problem" }
  /v1/work-orders:
    get:
      summary: List work orders (shadow=true shows what shadow mode would have created)
      parameters:
        - { name: shadow, in: query, schema: { type: boolean } }
        - { name: phase, in: query, schema: { type: string, enum: [pending, sending, verifying, waiting, delivered, dead_letter, shadow, quarantined] } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 1000 } }
      responses:
        "200": { description: "{items: [...]}" }
  /v1/work-orders/{id}:
    get:
      summary: One work order - CMMS id, status, delivery attempts, payload sent
      parameters: [ { name: id, in: path, required: true, description: Work order id or Millwright reference, schema: { type: string } } ]
      responses:
        "200": { description: The work order }
        "404": { $ref: "#/components/responses/Problem" }
  /v1/work-orders/{id}/redrive:
    post:
      summary: Send a dead-lettered work order again (role admin)
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "202": { description: Queued again; the CMMS is asked first whether it already has it }
        "404": { $ref: "#/components/responses/Problem" }
        "409": { $ref: "#/components/responses/Problem" }
  /v1/work-orders/{id}/ack:
    post:
      summary: Acknowledge a work order (role operator); stops its escalation chain
      description: 'Optional body `{"by": "T-114"}`; without it the name of the calling key is recorded. A second acknowledgement changes nothing and says who was first.'
      parameters: [ { name: id, in: path, required: true, schema: { type: string } } ]
      responses:
        "200": { description: "`acknowledged_at`, `acknowledged_by`, `changed`" }
        "404": { $ref: "#/components/responses/Problem" }
        "422": { $ref: "#/components/responses/Problem" }
  /v1/technicians:
    get:
      summary: The roster with each technician's shift state, qualifications and open Millwright work orders (load)
      responses:
        "200": { description: "`items` per technician; `queues` holds work assigned to fallback queues" }
  /v1/inventory/reservations:
    get:
      summary: Parts pre-staged or short per incident
      parameters:
        - { name: status, in: query, schema: { type: string, enum: [reserved, short, unknown, released, consumed] }, description: "Default: everything still held or short" }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 1000 } }
      responses:
        "200": { description: "`items`: sku, qty, status, location, free_now, incident, work order" }
        "400": { $ref: "#/components/responses/Problem" }
  /v1/evidence/{id}:
    get:
      summary: The annotated evidence image (JPEG) by SHA-256 or incident id
      description: With an API key (viewer and up), or without one through a signed, expiring link (`exp`, `sig`).
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
        - { name: exp, in: query, schema: { type: integer } }
        - { name: sig, in: query, schema: { type: string } }
      responses:
        "200": { description: JPEG, content: { image/jpeg: {} } }
        "304": { description: Not modified (ETag is the SHA-256) }
        "403": { $ref: "#/components/responses/Problem" }
        "404": { $ref: "#/components/responses/Problem" }
  /v1/stats:
    get:
      summary: Counts by detection status and work-order phase, detection-to-work-order latency
      responses:
        "200": { description: Figures from the store }
  /:
    get:
      summary: The planner's dashboard (HTML; asks for an API key)
      security: []
      responses:
        "200": { description: HTML }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
  responses:
    Problem:
      description: RFC 9457 problem document
      content:
        application/problem+json:
          schema: { $ref: "#/components/schemas/Problem" }
  schemas:
    Problem:
      type: object
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
            properties: { index: { type: integer }, field: { type: string }, problem: { type: string } }
    DetectionStatus:
      type: string
      enum: [below_threshold, pending_confirmation, confirmed, suppressed_repeat, orphaned, shadow]
    Detection:
      type: object
      required: [camera_id, timestamp, defect_class, confidence]
      properties:
        detection_id: { type: string, maxLength: 128, description: Idempotency key }
        camera_id: { type: string, maxLength: 128 }
        timestamp: { type: string, format: date-time }
        defect_class: { type: string, maxLength: 64 }
        confidence: { type: number, minimum: 0, maximum: 1 }
        bbox:
          type: object
          required: [x, y, width, height]
          properties: { x: { type: number }, y: { type: number }, width: { type: number }, height: { type: number } }
        image:
          type: object
          properties: { width: { type: integer }, height: { type: integer }, url: { type: string }, data_base64: { type: [string, "null"] } }
        zone: { type: string }
        production_order: { type: string }
        shift: { type: string }
        tracking_id: { type: string }
        model: { type: object, properties: { name: { type: string }, version: { type: string } } }
        measurements: { type: object, additionalProperties: { type: number } }
    IngestResponse:
      type: object
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
"""#
}

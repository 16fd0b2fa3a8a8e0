import Foundation
import Gateway
import Logging
import MillwrightCore
import Prometheus
import Server
import Store
import Testing
import Yams

/// The served OpenAPI document and the routes the server registers describe the same API.
@Suite struct OpenAPITests {
    func registered() throws -> Set<String> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-openapi-\(UUID().uuidString)").path
        let store = try Store(path: dir + "/db.sqlite")
        let gateway = Gateway(settings: Settings(), store: store, register: nil, connectors: [], logger: Logger(label: "test"))
        let api = APIServer(gateway: gateway, registry: PrometheusCollectorRegistry())
        return Set(api.routes.map { "\($0.method.rawValue.lowercased()) \($0.path)" })
    }

    func documented() throws -> Set<String> {
        let doc = try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? [String: Any], "the document is valid YAML")
        let paths = try #require(doc["paths"] as? [String: Any])
        var out = Set<String>()
        for (path, ops) in paths {
            for method in ((ops as? [String: Any]) ?? [:]).keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                out.insert("\(method) \(path)")
            }
        }
        return out
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let routes = try registered(), doc = try documented()
        // The pages are for people, not part of the API contract.
        #expect(routes.subtracting(doc).subtracting(APIServer.pageRoutes).sorted() == [], "registered but not documented")
        #expect(doc.subtracting(routes).sorted() == [], "documented but not registered")
    }

    typealias Object = [String: Any]

    func document() throws -> Object {
        try #require(try Yams.load(yaml: OpenAPIDocument.yaml) as? Object, "the document is valid YAML")
    }

    /// Follows a local `$ref` ("#/components/…") until the object is not a reference.
    func resolve(_ value: Any?, in doc: Object) -> Object? {
        var current = value as? Object
        var hops = 0
        while let ref = current?["$ref"] as? String, ref.hasPrefix("#/"), hops < 10 {
            var node: Any? = doc
            for part in ref.dropFirst(2).split(separator: "/") { node = (node as? Object)?[String(part)] }
            current = node as? Object
            hops += 1
        }
        return current
    }

    func operations(_ doc: Object) -> [(key: String, op: Object)] {
        let paths = (doc["paths"] as? Object) ?? [:]
        return paths.flatMap { path, ops in
            ((ops as? Object) ?? [:]).compactMap { method, op in (op as? Object).map { (key: "\(method) \(path)", op: $0) } }
        }.sorted { $0.key < $1.key }
    }

    /// The 200 body schema of an operation, resolved.
    func okSchema(_ op: Object, in doc: Object) -> Object? {
        let ok = resolve((op["responses"] as? Object)?["200"], in: doc)
        return resolve((((ok?["content"] as? Object)?["application/json"]) as? Object)?["schema"], in: doc)
    }

    /// The lists PRODUCT §9 pages: every GET whose body is `{items: […]}`.
    static let lists: Set<String> = ["get /v1/detections", "get /v1/incidents", "get /v1/work-orders", "get /v1/technicians", "get /v1/inventory/reservations",
                                     "get /v1/audit"]

    @Test func everyListDocumentsCursorLimitNextCursorAndLink() throws {
        let doc = try document()
        var found = Set<String>()
        for (key, op) in operations(doc) {
            let body = okSchema(op, in: doc)
            let properties = (body?["properties"] as? Object) ?? [:]
            guard properties["items"] != nil || Self.lists.contains(key) else { continue }
            found.insert(key)
            let names = Set(((op["parameters"] as? [Any]) ?? []).compactMap { resolve($0, in: doc)?["name"] as? String })
            #expect(names.isSuperset(of: ["cursor", "limit"]), "\(key) documents cursor and limit (has \(names.sorted()))")
            #expect(properties["next_cursor"] != nil, "\(key) documents next_cursor in its body")
            let required = (body?["required"] as? [String]) ?? []
            #expect(required.contains("items") && required.contains("next_cursor") == false, "\(key): items always, next_cursor absent on the last page")
            let ok = resolve((op["responses"] as? Object)?["200"], in: doc)
            #expect((ok?["headers"] as? Object)?["Link"] != nil, "\(key) documents the Link header")
            #expect((op["responses"] as? Object)?["400"] != nil, "\(key) documents the 400 of a malformed cursor")
        }
        #expect(found == Self.lists, "the lists with items are the lists PRODUCT §9 pages")
        let limit = resolve((doc["components"] as? Object)?["parameters"].flatMap { ($0 as? Object)?["limit"] }, in: doc)
        let schema = limit?["schema"] as? Object
        #expect(schema?["minimum"] as? Int == 1 && schema?["maximum"] as? Int == 1000, "limit is 1–1000 as the server checks it")
    }

    @Test func everyOperationThatNeedsAKeyAnswers401AndProblemsAreProblemJSON() throws {
        let doc = try document()
        let global = doc["security"] as? [Any]
        #expect(global?.isEmpty == false, "a global security requirement")
        let schemes = ((doc["components"] as? Object)?["securitySchemes"] as? Object) ?? [:]
        let bearer = schemes.values.compactMap { $0 as? Object }.first { $0["type"] as? String == "http" }
        #expect((bearer?["scheme"] as? String)?.lowercased() == "bearer", "an HTTP bearer security scheme")
        for (key, op) in operations(doc) {
            let responses = (op["responses"] as? Object) ?? [:]
            let open = (op["security"] as? [Any])?.isEmpty == true
            if !open { #expect(responses["401"] != nil, "\(key) needs a key, so it can answer 401") }
            for (code, response) in responses where code.hasPrefix("4") {
                let content = (resolve(response, in: doc)?["content"] as? Object) ?? [:]
                let schema = resolve((content["application/problem+json"] as? Object)?["schema"], in: doc)
                #expect(schema?["properties"].flatMap { ($0 as? Object)?["request_id"] } != nil, "\(key) \(code) is an application/problem+json Problem")
            }
        }
        let problem = resolve(["$ref": "#/components/schemas/Problem"], in: doc)
        let fields = Set(((problem?["properties"] as? Object) ?? [:]).keys)
        #expect(fields.isSuperset(of: ["type", "title", "status", "detail", "request_id", "errors"]))
    }
}

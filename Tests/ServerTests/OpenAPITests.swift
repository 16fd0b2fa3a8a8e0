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
        // The dashboard page is for people, not part of the API contract.
        #expect(routes.subtracting(doc).subtracting(["get /"]).sorted() == [], "registered but not documented")
        #expect(doc.subtracting(routes).sorted() == [], "documented but not registered")
    }
}

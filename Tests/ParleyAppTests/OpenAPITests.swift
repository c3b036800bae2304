import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyCore
import ParleyHTTP
import ParleyStorage
import Testing

@Suite struct OpenAPITests {
    @Test func everyRegisteredRouteIsDescribedInTheOpenAPIDocumentAndNothingElse() async throws {
        try await TestApp.run(.sqlite) { app, client in
            let (_, routeTable) = ParleyServer.buildRouter(services: app.services, metrics: HTTPMetrics())
            let document = try await client.json(.get, "/v1/openapi.json")
            #expect(document.status == .ok)
            #expect(document.body["openapi"] == "3.1.0")
            guard case .object(let paths) = document.body["paths"] else {
                Issue.record("no paths")
                return
            }
            var documented: Set<String> = []
            for (path, item) in paths {
                for method in item.objectValue?.keys ?? [:].keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            let registered = Set(routeTable.routes.map { "\($0.method) \($0.path)" })
            #expect(registered.count > 10)
            #expect(registered.subtracting(documented).isEmpty, "undocumented: \(registered.subtracting(documented).sorted())")
            #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        }
    }

    @Test func everySchemaReferenceResolves() async throws {
        try await TestApp.run(.sqlite) { _, client in
            let document = try await client.json(.get, "/v1/openapi.json")
            let schemas = document.body["components"]?["schemas"]?.objectValue ?? [:]
            var references: [String] = []
            func collect(_ value: JSONValue) {
                switch value {
                case .object(let object):
                    if let ref = object["$ref"]?.stringValue { references.append(ref) }
                    object.values.forEach(collect)
                case .array(let values): values.forEach(collect)
                default: break
                }
            }
            collect(document.body)
            #expect(!references.isEmpty)
            for reference in references {
                let name = reference.replacingOccurrences(of: "#/components/schemas/", with: "")
                #expect(schemas[name] != nil, "unresolved \(reference)")
            }
        }
    }
}

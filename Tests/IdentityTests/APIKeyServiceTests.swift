import Events
import Foundation
import Identity
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

@Suite struct APIKeyServiceTests {
    @Test(arguments: TestDatabases.engines)
    func aKeyAuthenticatesUntilRevokedAndOnlyWithItsExactSecret(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [SQLUserStore.migrations]) { database in
            let service = APIKeyService(database: database, ids: SortableIDGenerator(), clock: SystemWallClock())
            let issued = try await service.create(name: "backend", scope: .server)
            #expect(issued.plaintext.hasPrefix("prly_"))
            #expect(try await service.authenticate(issued.plaintext)?.scope == .server)
            var tampered = issued.plaintext
            tampered.removeLast()
            tampered.append(issued.plaintext.last == "A" ? "B" : "A")
            #expect(try await service.authenticate(tampered) == nil)
            #expect(try await service.authenticate("prly_") == nil)
            #expect(try await service.authenticate("prly_unknown_secret") == nil)
            #expect(try await service.revoke(id: issued.key.id))
            #expect(try await service.authenticate(issued.plaintext) == nil)
            #expect(try await service.revoke(id: "missing") == false)
            #expect(try await service.list().map(\.id) == [issued.key.id])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func onlyTheHashOfTheSecretIsStored(engine: DatabaseEngine) async throws {
        try await TestDatabases.withDatabase(engine, migrations: [SQLUserStore.migrations]) { database in
            let service = APIKeyService(database: database, ids: SortableIDGenerator(), clock: SystemWallClock())
            let issued = try await service.create(name: "x", scope: .admin)
            let secret = String(issued.plaintext.split(separator: "_", maxSplits: 2)[2])
            let rows = try await database.sql.raw("SELECT secret_hash FROM identity_api_keys").all()
            let stored = try rows[0].decode(column: "secret_hash", as: String.self)
            #expect(stored.count == 64)
            #expect(!stored.contains(secret))
        }
    }
}

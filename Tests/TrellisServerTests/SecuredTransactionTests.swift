import Foundation
import GraphKernel
import GraphValues
import Testing
import TrellisService

@testable import TrellisServer

@Suite("Role and access-mode enforcement on the kernel API (neo4j-ops.md §6)")
struct SecuredTransactionTests {
    func withDatabase(_ body: (GraphDatabase) throws -> Void) throws {
        let dir = try TemporaryDirectory()
        let db = try GraphDatabase(directory: dir.path + "/graph.db", configuration: KernelConfiguration(pageCacheSizeBytes: 8 << 20))
        defer { try? db.close() }
        try db.write { tx in
            let person = try tx.getOrCreateLabelToken("Person")
            let name = try tx.getOrCreatePropertyKeyToken("name")
            let n = try tx.createNode(labels: [person])
            try tx.setNodeProperty(n, name, .string("Ann"))
        }
        try body(db)
    }

    func secured(_ db: GraphDatabase, roles: [String], mode: AccessMode = .write, readOnly: Bool = false) throws
        -> SecuredTransaction
    {
        let tx = try db.beginTransaction(mode: mode == .write ? .write : .read)
        return SecuredTransaction(tx, security: SecurityContext(
            username: "u", permissions: Permissions.of(roles: roles), accessMode: mode, readOnlyDatabase: readOnly))
    }

    func code(_ body: () throws -> Void) -> StatusCode? {
        do { try body(); return nil } catch let e as DatabaseError { return e.code } catch { return .unknownError }
    }

    @Test("a reader reads but cannot write; a user without roles cannot even read")
    func reader() throws {
        try withDatabase { db in
            let tx = try secured(db, roles: ["reader"])
            let person = try #require(try tx.labelToken("Person"))
            #expect(try tx.countNodes(label: person) == 1)
            #expect(code { _ = try tx.createNode(labels: [person]) } == .forbidden)
            let nobody = try secured(db, roles: [])
            #expect(code { _ = try nobody.countNodes(label: nil) } == .forbidden)
        }
    }

    @Test("an editor writes with existing tokens but cannot create new ones; a publisher can")
    func tokens() throws {
        try withDatabase { db in
            let editor = try secured(db, roles: ["editor"])
            #expect(code { _ = try editor.getOrCreateLabelToken("Person") } == nil)
            #expect(code { _ = try editor.createNode(labels: [try editor.getOrCreateLabelToken("Person")]) } == nil)
            #expect(code { _ = try editor.getOrCreateLabelToken("Brand_New") } == .forbidden)
            let publisher = try secured(db, roles: ["publisher"])
            #expect(code { _ = try publisher.getOrCreateLabelToken("Brand_New") } == nil)
        }
    }

    @Test("schema changes need the architect role")
    func schema() throws {
        try withDatabase { db in
            let publisher = try secured(db, roles: ["publisher"])
            let person = try #require(try publisher.labelToken("Person"))
            let name = try #require(try publisher.propertyKeyToken("name"))
            #expect(code { _ = try publisher.createIndex(name: nil, label: person, propertyKey: name) } == .forbidden)
            let architect = try secured(db, roles: ["architect"])
            #expect(code { _ = try architect.createIndex(name: nil, label: person, propertyKey: name) } == nil)
        }
    }

    @Test("the batched raw property read checks the read permission and returns the kernel's values")
    func rawPropertyRead() throws {
        try withDatabase { db in
            let reader = try secured(db, roles: ["reader"])
            let person = try #require(try reader.labelToken("Person"))
            let name = try #require(try reader.propertyKeyToken("name"))
            let nodes = Array(try reader.nodes(withLabel: person))
            var raw = [RawProperty](repeating: .absent, count: nodes.count)
            var decoded: [Value] = []
            try reader.rawNodeProperties(nodes, keys: [name], into: &raw, decoded: &decoded)
            #expect(raw.map { $0.value(decoded) } == [.string("Ann")])
            let nobody = try secured(db, roles: [])
            #expect(code { try nobody.rawNodeProperties(nodes, keys: [name], into: &raw, decoded: &decoded) }
                == .forbidden)
        }
    }

    @Test("a READ session gets AccessMode, a read-only database ForbiddenOnReadOnlyDatabase, even for admins")
    func modes() throws {
        try withDatabase { db in
            let read = try secured(db, roles: ["admin"], mode: .read)
            #expect(code { _ = try read.createNode(labels: []) } == .accessMode)
            let readOnly = try secured(db, roles: ["admin"], readOnly: true)
            #expect(code { _ = try readOnly.createNode(labels: []) }?.rawValue
                == "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase")
        }
    }
}

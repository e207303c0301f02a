import Cypher
import Foundation
import GraphKernel
import GraphValues
import Logging
import Testing
import TrellisService

@testable import TrellisServer

/// `trellis.testing.registerProcedure` through the whole server stack (service, Cypher engine, kernel), as the TCK
/// runner reaches it over Bolt.
@Suite("trellis.testing.registerProcedure exists only when trellis.testing.procedures.enabled is on")
struct TestingProceduresTests {
    final class Server {
        let fixture: CypherServiceFixture
        var database: GraphDatabase { fixture.database }
        var service: TrellisDatabaseService { fixture.service }

        init(enabled: Bool?) throws {
            var overrides: [String: String] = [:]
            if let enabled { overrides["trellis.testing.procedures.enabled"] = enabled ? "true" : "false" }
            fixture = try CypherServiceFixture(overrides: overrides)
        }

        func run(_ query: String, _ parameters: [String: Value] = [:], roles: [String] = ["admin"]) throws -> [[Value]] {
            let session = service.openSession(
                user: AuthenticatedUser(username: roles.first ?? "nobody", roles: roles, passwordChangeRequired: false))
            let cursor = try session.run(query, parameters: parameters, options: TransactionOptions())
            var rows: [[Value]] = []
            while let r = try cursor.next() { rows.append(r) }
            return rows
        }

        func errorCode(_ query: String, _ parameters: [String: Value] = [:], roles: [String] = ["admin"]) -> String? {
            do { _ = try run(query, parameters, roles: roles); return nil } catch let e as DatabaseError {
                return e.code.rawValue
            } catch { return "\(error)" }
        }
    }

    static let register = "CALL trellis.testing.registerProcedure($signature, $header, $rows)"
    static let fixture: [String: Value] = [
        "signature": .string("test.my.proc(name :: STRING?) :: (id :: INTEGER?)"),
        "header": .list([.string("name"), .string("id")]),
        "rows": .list([.list([.string("a"), .integer(1)]), .list([.string("b"), .integer(2)]),
                       .list([.string("a"), .integer(3)])]),
    ]

    @Test("off (the default, or explicitly false): the procedure is unknown, like any other")
    func refusedWhenOff() throws {
        for enabled in [nil, false] as [Bool?] {
            let server = try Server(enabled: enabled)
            #expect(server.errorCode(Self.register, Self.fixture) == "Neo.ClientError.Procedure.ProcedureNotFound")
            #expect(server.errorCode("CALL test.my.proc('a')") == "Neo.ClientError.Procedure.ProcedureNotFound")
        }
    }

    @Test("on: an admin registers a table procedure that answers by its inputs, and can replace it")
    func registersWhenOn() throws {
        let server = try Server(enabled: true)
        // Compiled (and cached) while the procedure does not exist yet: registering must invalidate the plan.
        #expect(server.errorCode("CALL test.my.proc('a') YIELD id RETURN id")
            == "Neo.ClientError.Procedure.ProcedureNotFound")
        #expect(try server.run(Self.register, Self.fixture).isEmpty)
        #expect(try server.run("CALL test.my.proc('a') YIELD id RETURN id ORDER BY id") == [[.integer(1)], [.integer(3)]])
        #expect(try server.run("CALL test.my.proc('zz') YIELD id RETURN id").isEmpty)

        var replaced = Self.fixture
        replaced["rows"] = .list([.list([.string("a"), .integer(42)])])
        #expect(try server.run(Self.register, replaced).isEmpty)
        #expect(try server.run("CALL test.my.proc('a') YIELD id RETURN id") == [[.integer(42)]])

        // VOID procedures, as the TCK also declares them.
        #expect(try server.run(Self.register, [
            "signature": .string("test.doNothing() :: VOID"), "header": .list([]), "rows": .list([]),
        ]).isEmpty)
        #expect(try server.run("CALL test.doNothing()").isEmpty)
    }

    @Test("on: non-admins are refused, server procedures cannot be shadowed, malformed tables are argument errors")
    func guardsWhenOn() throws {
        let server = try Server(enabled: true)
        #expect(server.errorCode(Self.register, Self.fixture, roles: ["publisher"])
            == "Neo.ClientError.Security.Forbidden")
        #expect(server.errorCode("CALL test.my.proc('a')") == "Neo.ClientError.Procedure.ProcedureNotFound")

        #expect(server.errorCode(Self.register, [
            "signature": .string("dbms.listConfig(searchString :: STRING?) :: (name :: STRING?)"),
            "header": .list([.string("searchString"), .string("name")]), "rows": .list([]),
        ]) == "Neo.ClientError.Procedure.ProcedureCallFailed")
        #expect(try server.run("CALL dbms.listConfig('trellis.testing') YIELD name RETURN name")
            == [[.string("trellis.testing.procedures.enabled")]])

        var ragged = Self.fixture
        ragged["rows"] = .list([.list([.string("a")])])
        #expect(server.errorCode(Self.register, ragged) == "Neo.ClientError.Statement.ArgumentError")
        #expect(server.errorCode(Self.register, [
            "signature": .string("no parentheses"), "header": .list([]), "rows": .list([]),
        ]) == "Neo.ClientError.Statement.ArgumentError")
        #expect(server.errorCode("CALL test.my.proc('a')") == "Neo.ClientError.Procedure.ProcedureNotFound")
    }
}

import Cypher
import Foundation
import GraphValues
import TrellisService

/// The `dbms.*` procedures that belong to the server rather than the graph: user and role management
/// (neo4j-ops.md §6), the routing table, and configuration listing. Registered into the Cypher engine's
/// procedure registry at start-up.
public enum ServerProcedures {
    public static func register(
        in registry: ProcedureRegistry, auth: AuthManager, config: Config, service: TrellisDatabaseService
    ) {
        // Weak: the service owns the engine that owns this registry.
        let serviceRef = WeakService(service)
        func liveService() throws -> TrellisDatabaseService {
            guard let s = serviceRef.value else { throw DatabaseError(.databaseUnavailable, "The server is stopping.") }
            return s
        }
        let routingTable: ([String: String], String?) throws -> RoutingTable = { ctx, db in
            try liveService().routingTable(context: ctx, database: db)
        }
        func caller(_ ctx: ProcedureContext) -> (name: String, permissions: Permissions) {
            if let secured = ctx.transaction as? SecuredTransaction {
                return (secured.security.username, secured.security.permissions)
            }
            return (ctx.options.username, auth.enabled ? [] : .all)
        }
        func requireAdmin(_ ctx: ProcedureContext) throws -> String {
            let (name, permissions) = caller(ctx)
            guard permissions.contains(.manageSecurity) else {
                throw DatabaseError(.forbidden, "Permission denied: user '\(name)' is not an admin.")
            }
            return name
        }
        func requireAuth() throws {
            guard auth.enabled else {
                throw DatabaseError(
                    .procedureCallFailed, "User management needs authentication: set dbms.security.auth_enabled=true.")
            }
        }
        func string(_ args: [Value], _ i: Int, _ what: String) throws -> String {
            guard i < args.count, case .string(let s) = args[i] else {
                throw DatabaseError(.argumentError, "\(what) must be a string")
            }
            return s
        }
        func bool(_ args: [Value], _ i: Int) -> Bool {
            if i < args.count, case .boolean(let b) = args[i] { return b }
            return true
        }
        func run(_ body: () throws -> Void) throws -> [[Value]] {
            do { try body() } catch let e as DatabaseError where e.code == .invalidRequest {
                throw DatabaseError(.procedureCallFailed, e.message)  // Neo4j wraps these as ProcedureCallFailed
            }
            return []
        }
        func userRow(_ u: (name: String, roles: [String], flags: [String])) -> [Value] {
            [.string(u.name), .list(u.roles.map(Value.string)), .list(u.flags.map(Value.string))]
        }

        let changePassword: (ProcedureContext, [Value]) throws -> [[Value]] = { ctx, args in
            try requireAuth()
            let pw = try string(args, 0, "password")
            return try run { try auth.changePassword(of: caller(ctx).name, to: pw) }
        }
        for name in ["dbms.security.changePassword", "dbms.changePassword"] {
            registry.register(ProcedureDefinition(
                name: name, parameters: [ProcedureParameter("password", "STRING?")], outputs: [], mode: .dbms,
                description: "Change the current user's password.", body: changePassword))
        }
        let showCurrentUser: (ProcedureContext, [Value]) throws -> [[Value]] = { ctx, _ in
            let (name, _) = caller(ctx)
            if let u = auth.listUsers().first(where: { $0.name == name }) { return [userRow(u)] }
            return [[.string(name), .list([]), .list([])]]
        }
        for name in ["dbms.showCurrentUser", "dbms.security.showCurrentUser"] {
            registry.register(ProcedureDefinition(
                name: name, outputs: [("username", "STRING?"), ("roles", "LIST? OF STRING?"), ("flags", "LIST? OF STRING?")],
                mode: .dbms, description: "Show the current user.", body: showCurrentUser))
        }
        registry.register(ProcedureDefinition(
            name: "dbms.security.createUser",
            parameters: [ProcedureParameter("username", "STRING?"), ProcedureParameter("password", "STRING?"),
                         ProcedureParameter("requirePasswordChange", "BOOLEAN?", default: .boolean(true))],
            outputs: [], mode: .dbms, description: "Create a new user."
        ) { ctx, args in
            try requireAuth()
            _ = try requireAdmin(ctx)
            let name = try string(args, 0, "username")
            let pw = try string(args, 1, "password")
            return try run { try auth.createUser(name, password: pw, requirePasswordChange: bool(args, 2)) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.deleteUser", parameters: [ProcedureParameter("username", "STRING?")], outputs: [],
            mode: .dbms, description: "Delete the specified user."
        ) { ctx, args in
            try requireAuth()
            let actor = try requireAdmin(ctx)
            let name = try string(args, 0, "username")
            return try run { try auth.deleteUser(name, by: actor) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.listUsers",
            outputs: [("username", "STRING?"), ("roles", "LIST? OF STRING?"), ("flags", "LIST? OF STRING?")],
            mode: .dbms, description: "List all local users."
        ) { ctx, _ in
            try requireAuth()
            _ = try requireAdmin(ctx)
            return auth.listUsers().map(userRow)
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.listRoles", outputs: [("role", "STRING?"), ("users", "LIST? OF STRING?")], mode: .dbms,
            description: "List all available roles."
        ) { ctx, _ in
            try requireAuth()
            _ = try requireAdmin(ctx)
            return auth.listRoles().map { [.string($0.role), .list($0.users.map(Value.string))] }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.addRoleToUser",
            parameters: [ProcedureParameter("roleName", "STRING?"), ProcedureParameter("username", "STRING?")],
            outputs: [], mode: .dbms, description: "Assign a role to the user."
        ) { ctx, args in
            try requireAuth()
            _ = try requireAdmin(ctx)
            let role = try string(args, 0, "roleName")
            let name = try string(args, 1, "username")
            return try run { try auth.addRole(role, to: name) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.removeRoleFromUser",
            parameters: [ProcedureParameter("roleName", "STRING?"), ProcedureParameter("username", "STRING?")],
            outputs: [], mode: .dbms, description: "Unassign a role from the user."
        ) { ctx, args in
            try requireAuth()
            let actor = try requireAdmin(ctx)
            let role = try string(args, 0, "roleName")
            let name = try string(args, 1, "username")
            return try run { try auth.removeRole(role, from: name, by: actor) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.suspendUser", parameters: [ProcedureParameter("username", "STRING?")], outputs: [],
            mode: .dbms, description: "Suspend the specified user."
        ) { ctx, args in
            try requireAuth()
            let actor = try requireAdmin(ctx)
            let name = try string(args, 0, "username")
            guard name != actor else {
                throw DatabaseError(.procedureCallFailed, "Suspending yourself (user '\(name)') is not allowed.")
            }
            return try run { try auth.suspend(name, suspended: true) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.security.activateUser",
            parameters: [ProcedureParameter("username", "STRING?"),
                         ProcedureParameter("requirePasswordChange", "BOOLEAN?", default: .boolean(true))],
            outputs: [], mode: .dbms, description: "Activate a suspended user."
        ) { ctx, args in
            try requireAuth()
            _ = try requireAdmin(ctx)
            let name = try string(args, 0, "username")
            return try run { try auth.suspend(name, suspended: false) }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.cluster.routing.getRoutingTable",
            parameters: [ProcedureParameter("context", "MAP?"), ProcedureParameter("database", "STRING?", default: .null)],
            outputs: [("ttl", "INTEGER?"), ("servers", "LIST? OF MAP?")], mode: .dbms,
            description: "Returns the advertised bolt capable endpoints for a given database."
        ) { _, args in
            var context: [String: String] = [:]
            if case .map(let m) = args.first ?? .null {
                for (k, v) in m { if case .string(let s) = v { context[k] = s } }
            }
            var database: String?
            if args.count > 1, case .string(let d) = args[1] { database = d }
            let t = try routingTable(context, database)
            func entry(_ role: String, _ addresses: [String]) -> Value {
                .map(["addresses": .list(addresses.map(Value.string)), "role": .string(role)])
            }
            return [[.integer(Int64(t.ttlSeconds)),
                     .list([entry("WRITE", t.writers), entry("READ", t.readers), entry("ROUTE", t.routers)])]]
        })
        func millis(_ d: Duration) -> Value {
            .integer(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        func iso(_ date: Date) -> Value { .string(ISO8601DateFormatter().string(from: date)) }
        registry.register(ProcedureDefinition(
            name: "dbms.listQueries",
            outputs: [("queryId", "STRING?"), ("username", "STRING?"), ("metaData", "MAP?"), ("query", "STRING?"),
                      ("parameters", "MAP?"), ("planner", "STRING?"), ("runtime", "STRING?"), ("indexes", "LIST? OF MAP?"),
                      ("startTime", "STRING?"), ("protocol", "STRING?"), ("clientAddress", "STRING?"),
                      ("requestUri", "STRING?"), ("status", "STRING?"), ("resourceInformation", "MAP?"),
                      ("activeLockCount", "INTEGER?"), ("elapsedTimeMillis", "INTEGER?"), ("cpuTimeMillis", "INTEGER?"),
                      ("waitTimeMillis", "INTEGER?"), ("idleTimeMillis", "INTEGER?"), ("allocatedBytes", "INTEGER?"),
                      ("pageHits", "INTEGER?"), ("pageFaults", "INTEGER?"), ("transactionId", "STRING?")],
            mode: .dbms, description: "List all queries currently executing at the instance that are visible to the user."
        ) { ctx, _ in
            let (name, permissions) = caller(ctx)
            let admin = permissions.contains(.manageSecurity)
            return try liveService().runningQueries().filter { admin || $0.username == name }.map { q in
                [.string(q.id), .string(q.username), .map(q.metadata), .string(q.query),
                 .map(QueryLog.maskParameters(q.query, q.parameters)), .string("COST"), .string("PIPELINED"), .list([]),
                 iso(q.started), .string(""), .string(""), .string(""), .string("running"), .map([:]), .integer(0),
                 millis(q.elapsed), .null, .integer(0), .null, .null, .integer(0), .integer(0), .string(q.transaction)]
            }
        })
        let killQueries: (ProcedureContext, [String]) throws -> [[Value]] = { ctx, ids in
            let (name, permissions) = caller(ctx)
            return try ids.map { id in
                if let owner = try liveService().killQuery(id, by: name, isAdmin: permissions.contains(.manageSecurity)) {
                    return [.string(id), .string(owner), .string("Query found")]
                }
                return [.string(id), .string("n/a"), .string("No Query found with this id")]
            }
        }
        let killOutputs: [(name: String, type: String)] = [("queryId", "STRING?"), ("username", "STRING?"), ("message", "STRING?")]
        registry.register(ProcedureDefinition(
            name: "dbms.killQuery", parameters: [ProcedureParameter("id", "STRING?")], outputs: killOutputs, mode: .dbms,
            description: "Kill a running query (its transaction is terminated)."
        ) { ctx, args in try killQueries(ctx, [try string(args, 0, "id")]) })
        registry.register(ProcedureDefinition(
            name: "dbms.killQueries", parameters: [ProcedureParameter("ids", "LIST? OF STRING?")], outputs: killOutputs,
            mode: .dbms, description: "Kill running queries (their transactions are terminated)."
        ) { ctx, args in
            guard case .list(let items) = args.first ?? .null else {
                throw DatabaseError(.argumentError, "ids must be a list of strings")
            }
            return try killQueries(ctx, items.compactMap { if case .string(let s) = $0 { return s } else { return nil } })
        })
        registry.register(ProcedureDefinition(
            name: "dbms.listTransactions",
            outputs: [("transactionId", "STRING?"), ("username", "STRING?"), ("metaData", "MAP?"), ("startTime", "STRING?"),
                      ("protocol", "STRING?"), ("clientAddress", "STRING?"), ("requestUri", "STRING?"),
                      ("currentQueryId", "STRING?"), ("currentQuery", "STRING?"), ("activeLockCount", "INTEGER?"),
                      ("status", "STRING?"), ("resourceInformation", "MAP?"), ("elapsedTimeMillis", "INTEGER?"),
                      ("cpuTimeMillis", "INTEGER?"), ("waitTimeMillis", "INTEGER?"), ("idleTimeMillis", "INTEGER?"),
                      ("allocatedBytes", "INTEGER?"), ("allocatedDirectBytes", "INTEGER?"), ("pageHits", "INTEGER?"),
                      ("pageFaults", "INTEGER?")],
            mode: .dbms, description: "List all transactions currently executing at the instance that are visible to the user."
        ) { ctx, _ in
            let (name, permissions) = caller(ctx)
            let admin = permissions.contains(.manageSecurity)
            return try liveService().openTransactions().filter { admin || $0.username == name }.map { t in
                [.string(t.id), .string(t.username), .map(t.metadata), iso(t.started), .string(""), .string(""),
                 .string(""), .string(t.currentQueryID), .string(t.currentQuery), .integer(0),
                 .string(t.currentQueryID.isEmpty ? "Idle" : "Running"), .map([:]), millis(t.elapsed), .null,
                 .integer(0), .null, .null, .null, .integer(0), .integer(0)]
            }
        })
        registry.register(ProcedureDefinition(
            name: "dbms.killTransaction", parameters: [ProcedureParameter("id", "STRING?")],
            outputs: [("transactionId", "STRING?"), ("username", "STRING?"), ("message", "STRING?")], mode: .dbms,
            description: "Kill a transaction."
        ) { ctx, args in
            let (name, permissions) = caller(ctx)
            let id = try string(args, 0, "id")
            if let owner = try liveService().killTransaction(id, by: name, isAdmin: permissions.contains(.manageSecurity)) {
                return [[.string(id), .string(owner), .string("Transaction marked for termination")]]
            }
            return [[.string(id), .string("n/a"), .string("Transaction not found")]]
        })
        registry.register(ProcedureDefinition(
            name: "dbms.listConfig", parameters: [ProcedureParameter("searchString", "STRING?", default: .string(""))],
            outputs: [("name", "STRING?"), ("description", "STRING?"), ("value", "STRING?")], mode: .dbms,
            description: "List the currently active config of Neo4j."
        ) { _, args in
            var search = ""
            if case .string(let s) = args.first ?? .null { search = s.lowercased() }
            return Settings.all.filter { search.isEmpty || $0.name.lowercased().contains(search) }.map {
                [.string($0.name), .string($0.description), .string(config.text(of: $0.name) ?? "")]
            }
        })
        if config.get(Settings.testingProceduresEnabled) {
            registerTestingProcedures(in: registry, requireAdmin: { _ = try requireAdmin($0) })
        }
    }

    /// `trellis.testing.registerProcedure(signature, header, rows)`: the openCypher TCK's "there exists a procedure"
    /// fixture (tck_runner.py `--procedure-query`). Only registered when `trellis.testing.procedures.enabled` is on,
    /// so on a normal server the name is as unknown as any other (ProcedureNotFound). Registered procedures live in
    /// this registry only (memory, this instance); re-registering one of them replaces it, but a procedure the
    /// server itself defines cannot be shadowed.
    static func registerTestingProcedures(
        in registry: ProcedureRegistry, requireAdmin: @escaping (ProcedureContext) throws -> Void
    ) {
        let registered = RegisteredNames()
        // Weak: the registry owns this definition.
        let registryRef = WeakRegistry(registry)
        registry.register(ProcedureDefinition(
            name: "trellis.testing.registerProcedure",
            parameters: [ProcedureParameter("signature", "STRING?"), ProcedureParameter("header", "LIST? OF STRING?"),
                         ProcedureParameter("rows", "LIST? OF LIST? OF ANY?")],
            outputs: [], mode: .dbms,
            description: "Conformance testing only: register a procedure that answers from a table."
        ) { ctx, args in
            try requireAdmin(ctx)
            guard args.count == 3, case .string(let signature) = args[0], case .list(let header) = args[1],
                  case .list(let rows) = args[2] else {
                throw DatabaseError(
                    .argumentError, "registerProcedure needs (signature :: STRING, header :: LIST, rows :: LIST)")
            }
            var names: [String] = []
            for h in header {
                guard case .string(let name) = h else {
                    throw DatabaseError(.argumentError, "registerProcedure: header must hold column names (strings)")
                }
                names.append(name)
            }
            var table: [[Value]] = []
            for row in rows {
                guard case .list(let cells) = row, cells.count == names.count else {
                    throw DatabaseError(
                        .argumentError, "registerProcedure: every row must be a list of \(names.count) values")
                }
                table.append(cells)
            }
            let definition = try ProcedureDefinition.table(signature: signature, header: names, rows: table)
            guard let registry = registryRef.value else {
                throw DatabaseError(.databaseUnavailable, "The server is stopping.")
            }
            try registered.claim(definition.name) { registry.lookup($0) != nil }
            registry.register(definition)
            return []
        })
    }
}

/// Names registered through `trellis.testing.registerProcedure`, so it may replace those but not built-ins.
private final class RegisteredNames: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []

    func claim(_ name: String, exists: (String) -> Bool) throws {
        lock.lock()
        defer { lock.unlock() }
        guard name != "trellis.testing.registerProcedure", names.contains(name) || !exists(name) else {
            throw DatabaseError(
                .procedureCallFailed, "registerProcedure: '\(name)' is a server procedure and cannot be replaced.")
        }
        names.insert(name)
    }
}

/// A weak registry reference that can be captured by a `@Sendable` procedure body.
private final class WeakRegistry: @unchecked Sendable {
    weak var value: ProcedureRegistry?
    init(_ value: ProcedureRegistry) { self.value = value }
}

/// A weak reference that can be captured by `@Sendable` procedure bodies.
final class WeakService: @unchecked Sendable {
    weak var value: TrellisDatabaseService?
    init(_ value: TrellisDatabaseService) { self.value = value }
}

import Foundation
import GraphKernel
import GraphValues

/// Whether a procedure reads, writes, changes schema or administers the DBMS (`dbms.procedures()`'s `mode`).
public enum ProcedureMode: String, Sendable, Hashable {
    case read = "READ"
    case write = "WRITE"
    case schema = "SCHEMA"
    case dbms = "DBMS"
}

/// A declared parameter of a procedure: name, Cypher type name for the signature, and optional default.
public struct ProcedureParameter: Sendable, Hashable {
    public var name: String
    public var type: String
    public var defaultValue: Value?

    public init(_ name: String, _ type: String, default defaultValue: Value? = nil) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
    }
}

/// What a procedure body sees while running.
public struct ProcedureContext {
    public var transaction: any GraphWriteOperations
    public var options: ExecutionOptions
    /// The registry, for `dbms.procedures()` and friends.
    public var registry: ProcedureRegistry
}

/// A procedure callable with `CALL name(args) YIELD …`.
public struct ProcedureDefinition: @unchecked Sendable {
    /// Dotted, case-sensitive name (`db.labels`).
    public var name: String
    public var parameters: [ProcedureParameter]
    /// Output columns (name, Cypher type); empty for VOID procedures.
    public var outputs: [(name: String, type: String)]
    public var mode: ProcedureMode
    public var description: String
    /// Runs the procedure with arguments already checked against `parameters` (defaults filled in);
    /// returns rows with one value per output column.
    public var body: (ProcedureContext, [Value]) throws -> [[Value]]

    public init(
        name: String, parameters: [ProcedureParameter] = [], outputs: [(name: String, type: String)],
        mode: ProcedureMode = .read, description: String = "",
        body: @escaping (ProcedureContext, [Value]) throws -> [[Value]]
    ) {
        self.name = name
        self.parameters = parameters
        self.outputs = outputs
        self.mode = mode
        self.description = description
        self.body = body
    }

    /// Neo4j's signature text: `db.labels() :: (label :: STRING?)`.
    public var signature: String {
        let params = parameters.map { p -> String in
            var s = "\(p.name) :: \(p.type)"
            if let d = p.defaultValue { s += " = \(CypherText.literal(d))" }
            return s
        }.joined(separator: ", ")
        let outs = outputs.isEmpty ? "VOID" : "(" + outputs.map { "\($0.name) :: \($0.type)" }.joined(separator: ", ") + ")"
        return "\(name)(\(params)) :: \(outs)"
    }
}

/// The procedures `CALL` can reach. Thread-safe: modules register at start-up, sessions look up concurrently.
public final class ProcedureRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var byName: [String: ProcedureDefinition] = [:]
    private var changes = 0

    public init() {}

    /// Bumped by every `register`/`unregister`: plans (and the signature checks made while compiling them) are
    /// only reused while it is unchanged.
    var generation: Int {
        lock.lock()
        defer { lock.unlock() }
        return changes
    }

    /// A registry holding the built-in `db.*` and `dbms.*` procedures.
    public static func standard() -> ProcedureRegistry {
        let r = ProcedureRegistry()
        BuiltInProcedures.registerAll(in: r)
        return r
    }

    /// Adds or replaces a procedure.
    public func register(_ p: ProcedureDefinition) {
        lock.lock()
        defer { lock.unlock() }
        byName[p.name] = p
        changes += 1
    }

    /// Removes a procedure (tests re-registering TCK fixtures).
    public func unregister(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        byName[name] = nil
        changes += 1
    }

    /// The procedure named `name` (exact match first, then case-insensitive as Neo4j 3.x resolves namespaces).
    public func lookup(_ name: String) -> ProcedureDefinition? {
        lock.lock()
        defer { lock.unlock() }
        if let p = byName[name] { return p }
        let lower = name.lowercased()
        return byName.first { $0.key.lowercased() == lower }?.value
    }

    /// All procedures, sorted by name.
    public var all: [ProcedureDefinition] {
        lock.lock()
        defer { lock.unlock() }
        return byName.values.sorted { $0.name < $1.name }
    }
}

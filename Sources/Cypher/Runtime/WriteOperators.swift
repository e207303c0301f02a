import Foundation
import GraphKernel
import GraphValues

/// Applies an update to every row passing through (CREATE, SET, REMOVE, DELETE, FOREACH).
final class UpdateOp: Op {
    private let source: Op
    private let action: (inout Row, ExecutionContext) throws -> Void
    private let ctx: ExecutionContext

    init(source: Op, ctx: ExecutionContext, counter: ProfileCounter,
         action: @escaping (inout Row, ExecutionContext) throws -> Void) {
        self.source = source
        self.action = action
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        guard var row = try source.next() else { return nil }
        ctx.hits = counter
        try action(&row, ctx)
        return row
    }
}

/// MERGE: for each row, the matching rows of the pattern (after ON MATCH SET), or the row with the pattern
/// created (after ON CREATE SET).
final class MergeOp: Op {
    private let source: Op
    private let match: LogicalPlan
    private let create: (inout Row, ExecutionContext) throws -> Void
    private let onMatch: (inout Row, ExecutionContext) throws -> Void
    private let onCreate: (inout Row, ExecutionContext) throws -> Void
    private let ctx: ExecutionContext
    private var pending: [Row] = []
    private var index = 0

    init(source: Op, match: LogicalPlan, ctx: ExecutionContext, counter: ProfileCounter,
         create: @escaping (inout Row, ExecutionContext) throws -> Void,
         onMatch: @escaping (inout Row, ExecutionContext) throws -> Void,
         onCreate: @escaping (inout Row, ExecutionContext) throws -> Void) {
        self.source = source
        self.match = match
        self.create = create
        self.onMatch = onMatch
        self.onCreate = onCreate
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if index < pending.count {
                defer { index += 1 }
                return pending[index]
            }
            guard var row = try source.next() else { return nil }
            let op = try match.instantiate(ctx, argument: row)
            var found: [Row] = []
            while let r = try op.next() { found.append(r) }
            if found.isEmpty {
                try create(&row, ctx)
                try onCreate(&row, ctx)
                found = [row]
            } else {
                for i in found.indices { try onMatch(&found[i], ctx) }
            }
            pending = found
            index = 0
        }
    }
}

/// The kernel-level effects of updating clauses, with statistics.
enum Writes {
    static func propertyMap(_ v: Value, _ ctx: ExecutionContext) throws -> [String: Value] {
        switch v {
        case .null: return [:]
        case .map(let m): return m
        case .node, .relationship: return try ctx.properties(v)
        default:
            throw DatabaseError(.typeError, "Expected a map of properties but got \(Semantics.typeName(v))")
        }
    }

    /// MERGE may not create an entity with a null property value (Neo4j 3.5's SemanticError, and the openCypher
    /// TCK's `MergeReadOwnWrites`): such a pattern never matches, so every MERGE would create another one.
    static func checkMergeProperties(_ properties: [String: Value], of entity: String) throws {
        for key in properties.keys.sorted() where properties[key]!.isNull {
            throw DatabaseError(.semanticError, "Cannot merge \(entity) using null property value for \(key)")
        }
    }

    static func checkStorable(_ key: String, _ v: Value) throws {
        if case .list(let items) = v, items.contains(where: { $0.isNull }) {
            throw DatabaseError(.typeError, "Collections containing null values can not be stored in properties.")
        }
        if !v.isNull && !v.isStorableProperty {
            if case .map = v {
                throw DatabaseError(.typeError, "Property values can only be of primitive types or arrays thereof. "
                                        + "Encountered: Map{}.")
            }
            throw DatabaseError(.typeError, "Property values can only be of primitive types or arrays thereof")
        }
    }

    static func createNode(labels: [String], properties: [String: Value], _ ctx: ExecutionContext) throws -> Value {
        let tokens = try labels.map { try ctx.createLabel($0) }
        for (k, v) in properties { try checkStorable(k, v) }
        let tokenized = try propertyTokens(properties, ctx)
        let id = try ctx.tx.createNode(labels: tokens, properties: tokenized)
        ctx.stats.stats.nodesCreated += 1
        ctx.stats.stats.labelsAdded += labels.count < 2 ? labels.count : Set(labels).count
        ctx.stats.stats.propertiesSet += tokenized.count
        return ctx.nodeRef(id)
    }

    /// The non-null properties of a new entity with their key tokens. Keys this query has not resolved yet are
    /// created in name order, so token ids do not depend on the dictionary's iteration order.
    static func propertyTokens(_ properties: [String: Value], _ ctx: ExecutionContext) throws
        -> [(PropertyKeyToken, Value)]
    {
        var result: [(PropertyKeyToken, Value)] = []
        result.reserveCapacity(properties.count)
        for (k, v) in properties where !v.isNull {
            guard let token = ctx.cachedKey(k) else {
                result.removeAll(keepingCapacity: true)
                for (k, v) in properties.sorted(by: { $0.key < $1.key }) where !v.isNull {
                    result.append((try ctx.createKey(k), v))
                }
                return result
            }
            result.append((token, v))
        }
        return result
    }

    static func createRelationship(from: Value, to: Value, type: String, properties: [String: Value],
                                   _ ctx: ExecutionContext) throws -> Value {
        guard let a = nodeID(from), let b = nodeID(to) else { throw missingRelationshipNode(type) }
        for (k, v) in properties { try checkStorable(k, v) }
        let typeToken = try ctx.createRelType(type)
        let tokenized = try propertyTokens(properties, ctx)
        let id = try ctx.tx.createRelationship(from: a, to: b, type: typeToken, properties: tokenized)
        ctx.stats.stats.relationshipsCreated += 1
        ctx.stats.stats.propertiesSet += tokenized.count
        return try ctx.relRef(RelationshipInfo(id: id, type: typeToken, startNode: a, endNode: b))
    }

    /// CREATE of a relationship whose start or end is null (an OPTIONAL MATCH that found nothing).
    static func missingRelationshipNode(_ type: String) -> DatabaseError {
        DatabaseError(.semanticError, "Failed to create relationship `\(type)`, node is missing. "
                        + "If you prefer to simply ignore rows where a relationship node is missing, "
                        + "set 'cypher.lenient_create_relationship = true' in neo4j.conf")
    }

    static func setProperty(_ entity: Value, _ key: String, _ value: Value, _ ctx: ExecutionContext) throws {
        switch entity {
        case .null: return
        case .node(let n):
            if ctx.deletedNodes.contains(n.id) { throw ctx.deletedNode(n.id) }
            try checkStorable(key, value)
            if value.isNull {
                guard let k = try ctx.key(key) else { return }
                if !(try ctx.tx.removeNodeProperty(NodeID(n.id), k)).isNull { ctx.stats.stats.propertiesSet += 1 }
            } else {
                try ctx.tx.setNodeProperty(NodeID(n.id), try ctx.createKey(key), value)
                ctx.stats.stats.propertiesSet += 1
            }
        case .relationship(let r):
            try checkStorable(key, value)
            if value.isNull {
                guard let k = try ctx.key(key) else { return }
                if !(try ctx.tx.removeRelationshipProperty(RelationshipID(r.id), k)).isNull {
                    ctx.stats.stats.propertiesSet += 1
                }
            } else {
                try ctx.tx.setRelationshipProperty(RelationshipID(r.id), try ctx.createKey(key), value)
                ctx.stats.stats.propertiesSet += 1
            }
        default:
            throw DatabaseError(.typeError, "Expected \(CypherText.literal(entity)) to be a node or relationship, "
                                    + "but it was a \(Semantics.typeName(entity))")
        }
    }

    static func setAll(_ entity: Value, _ map: [String: Value], replace: Bool, _ ctx: ExecutionContext) throws {
        switch entity {
        case .null: return
        case .node, .relationship: try setAllChecked(entity, map, replace: replace, ctx)
        default:
            throw DatabaseError(.typeError, "Expected a node or relationship but got \(Semantics.typeName(entity))")
        }
    }

    private static func setAllChecked(_ entity: Value, _ map: [String: Value], replace: Bool,
                                      _ ctx: ExecutionContext) throws {
        if replace {
            for (k, _) in try ctx.properties(entity) where map[k] == nil {
                try setProperty(entity, k, .null, ctx)
            }
        }
        for (k, v) in map.sorted(by: { $0.key < $1.key }) { try setProperty(entity, k, v, ctx) }
    }

    static func setLabels(_ entity: Value, _ labels: [String], add: Bool, _ ctx: ExecutionContext) throws {
        switch entity {
        case .null: return
        case .node(let n):
            for l in labels {
                if add {
                    if try ctx.tx.addLabel(NodeID(n.id), try ctx.createLabel(l)) { ctx.stats.stats.labelsAdded += 1 }
                } else if let t = try ctx.label(l) {
                    if try ctx.tx.removeLabel(NodeID(n.id), t) { ctx.stats.stats.labelsRemoved += 1 }
                }
            }
        default:
            throw DatabaseError(.typeError, "Expected a node but got \(Semantics.typeName(entity))")
        }
    }

    static func delete(_ v: Value, detach: Bool, _ ctx: ExecutionContext) throws {
        switch v {
        case .null: return
        case .node(let n):
            if ctx.deletedNodes.contains(n.id) { return }
            let id = NodeID(n.id)
            guard try ctx.tx.nodeExists(id) else { return }
            if detach {
                var rels: [RelationshipInfo] = []
                let it = try ctx.tx.relationships(of: id, direction: .both, types: [])
                while let r = it.next() { rels.append(r) }
                for r in rels { try deleteRelationship(r.id, ctx) }
            } else if try ctx.tx.degree(of: id, direction: .both, types: []) > 0 {
                throw DatabaseError(.constraintValidationFailed,
                                    "Cannot delete node<\(n.id)>, because it still has relationships. "
                                        + "To delete this node, you must first delete its relationships.")
            }
            try ctx.tx.deleteNode(id)
            ctx.deletedNodes.insert(n.id)
            ctx.stats.stats.nodesDeleted += 1
        case .relationship(let r):
            try deleteRelationship(RelationshipID(r.id), ctx)
        case .path(let p):
            for r in p.relationships { try deleteRelationship(RelationshipID(r.id), ctx) }
            for n in p.nodes { try delete(.node(n), detach: detach, ctx) }
        default:
            throw DatabaseError(.typeError, "Expected a Node, Relationship or Path, but got a \(Semantics.typeName(v))")
        }
    }

    static func deleteRelationship(_ id: RelationshipID, _ ctx: ExecutionContext) throws {
        if ctx.deletedRelationships.contains(id.rawValue) { return }
        guard try ctx.tx.relationshipExists(id) else { return }
        try ctx.tx.deleteRelationship(id)
        ctx.deletedRelationships.insert(id.rawValue)
        ctx.stats.stats.relationshipsDeleted += 1
    }
}

/// Runs a procedure for each row, binding yielded columns.
final class ProcedureCallOp: Op {
    private let source: Op
    private let procedure: ProcedureDefinition
    private let arguments: [Eval]
    private let yields: [(column: Int, slot: Int)]
    private let ctx: ExecutionContext
    private var current: Row?
    private var results: [[Value]] = []
    private var index = 0

    init(source: Op, procedure: ProcedureDefinition, arguments: [Eval], yields: [(column: Int, slot: Int)],
         ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.procedure = procedure
        self.arguments = arguments
        self.yields = yields
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if var row = current {
                if index < results.count {
                    let r = results[index]
                    index += 1
                    for (c, s) in yields { row[s] = c < r.count ? r[c] : .null }
                    return row
                }
                current = nil
                if procedure.outputs.isEmpty {
                    return row
                }
            }
            guard let row = try source.next() else { return nil }
            var args = try arguments.map { try $0(row, ctx) }
            let params = procedure.parameters
            if args.count > params.count {
                throw DatabaseError(.syntaxError, "Procedure call provides too many arguments: got \(args.count) "
                                        + "expected no more than \(params.count)")
            }
            while args.count < params.count {
                guard let d = params[args.count].defaultValue else {
                    throw DatabaseError(.syntaxError, "Procedure call does not provide the required number of "
                                            + "arguments: got \(args.count) expected \(params.count)")
                }
                args.append(d)
            }
            results = try procedure.body(ProcedureContext(transaction: ctx.tx, options: ctx.options,
                                                          registry: ctx.registry), args)
            index = 0
            current = row
            if procedure.outputs.isEmpty {
                results = []
            }
        }
    }
}

/// LOAD CSV: one row per CSV record, as a list of strings or (WITH HEADERS) a map by header.
final class LoadCSVOp: Op {
    private let source: Op
    private let url: Eval
    private let slot: Int
    private let headers: Bool
    private let separator: Character
    private let ctx: ExecutionContext
    private var current: Row?
    private var records: [[String]] = []
    private var header: [String] = []
    private var index = 0

    init(source: Op, url: @escaping Eval, slot: Int, headers: Bool, separator: Character, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.url = url
        self.slot = slot
        self.headers = headers
        self.separator = separator
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if var row = current, index < records.count {
                let rec = records[index]
                index += 1
                if headers {
                    var m: [String: Value] = [:]
                    for (i, h) in header.enumerated() { m[h] = i < rec.count ? .string(rec[i]) : .null }
                    row[slot] = .map(m)
                } else {
                    row[slot] = .list(rec.map { .string($0) })
                }
                return row
            }
            current = nil
            guard let row = try source.next() else { return nil }
            guard case .string(let u) = try url(row, ctx) else {
                throw DatabaseError(.typeError, "LOAD CSV requires a string URL")
            }
            let text = try Self.read(u, importDirectory: ctx.options.importDirectory)
            var all = CSVParser.parse(text, separator: separator)
            if headers {
                header = all.isEmpty ? [] : all.removeFirst()
            }
            records = all
            index = 0
            current = row
        }
    }

    /// Reads a `file:///` URL inside the import directory; anything else is refused.
    static func read(_ url: String, importDirectory: String?) throws -> String {
        guard url.lowercased().hasPrefix("file:") else {
            throw DatabaseError(.externalResourceFailed, "Cannot load from URL '\(url)': only file:/// URLs are supported")
        }
        guard let importDirectory else {
            throw DatabaseError(.externalResourceFailed,
                                "Cannot load from URL '\(url)': file URLs are disabled (no import directory configured)")
        }
        var path = String(url.dropFirst(5))
        while path.hasPrefix("/") { path.removeFirst() }
        path = path.removingPercentEncoding ?? path
        let base = URL(fileURLWithPath: importDirectory).standardizedFileURL.path
        let full = URL(fileURLWithPath: base).appendingPathComponent(path).standardizedFileURL.path
        guard full == base || full.hasPrefix(base + "/") else {
            throw DatabaseError(.externalResourceFailed, "Cannot load from URL '\(url)': outside the import directory")
        }
        guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8)
        else {
            throw DatabaseError(.externalResourceFailed, "Couldn't load the external resource at: \(url)")
        }
        return text
    }
}

/// RFC 4180 CSV with a configurable separator (quotes double to escape).
enum CSVParser {
    static func parse(_ text: String, separator: Character) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var fieldStarted = false
        var chars = Array(text).makeIterator()
        var pending: Character? = nil
        func nextChar() -> Character? {
            if let p = pending { pending = nil; return p }
            return chars.next()
        }
        while let c = nextChar() {
            if inQuotes {
                if c == "\"" {
                    if let n = nextChar() {
                        if n == "\"" { field.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else { field.append(c) }
                continue
            }
            switch c {
            case "\"" where field.isEmpty: inQuotes = true; fieldStarted = true
            case separator: row.append(field); field = ""; fieldStarted = false
            case "\r": continue
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
                fieldStarted = false
            default: field.append(c); fieldStarted = true
            }
        }
        if fieldStarted || !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}

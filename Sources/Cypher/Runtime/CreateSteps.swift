import GraphKernel
import GraphValues

// MARK: - CREATE with properties compiled to key slots

/// The properties of a CREATE pattern written as a map literal: key names and one compiled expression per key,
/// in the literal's order (keys are distinct).
///
/// Built once per plan. A row evaluates the expressions into a `(token, value)` list directly; the tokens are
/// resolved once per execution (`CreateTokens`), not looked up by name per row. Behaviour matches the general
/// path (`Writes.createNode` with a property map): every expression is evaluated first, then the label or type
/// token is resolved, the values are checked for storability, and keys never resolved before are created in name
/// order, only for non-null values.
final class CreatePropertySlots {
    let keys: [String]
    let values: [Eval]
    /// Slot indexes in key-name order: the order in which missing key tokens are created.
    let nameOrder: [Int]

    init(keys: [String], values: [Eval]) {
        precondition(keys.count == values.count, "CREATE property slots: \(keys.count) keys, \(values.count) values")
        self.keys = keys
        self.values = values
        self.nameOrder = keys.indices.sorted { keys[$0] < keys[$1] }
    }

    /// Evaluates every value for `row` (nulls included: the caller checks and skips them).
    @inline(__always)
    func evaluate(_ row: Row, _ ctx: ExecutionContext) throws -> [Value] {
        var out: [Value] = []
        out.reserveCapacity(values.count)
        for value in values { out.append(try value(row, ctx)) }
        return out
    }

    /// Throws the general path's error for a value that cannot be stored as a property.
    func checkStorable(_ evaluated: [Value]) throws {
        for (i, value) in evaluated.enumerated() { try Writes.checkStorable(keys[i], value) }
    }

    /// The non-null values of `evaluated` with their key tokens, creating the tokens still missing.
    func tokenized(_ evaluated: [Value], _ tokens: CreateTokens, _ ctx: ExecutionContext) throws
        -> [(PropertyKeyToken, Value)]
    {
        var result: [(PropertyKeyToken, Value)] = []
        result.reserveCapacity(evaluated.count)
        for (i, value) in evaluated.enumerated() where !value.isNull {
            guard let token = tokens.keys[i] else {
                try resolveMissing(evaluated, tokens, ctx)
                return try tokenized(evaluated, tokens, ctx)
            }
            result.append((token, value))
        }
        return result
    }

    private func resolveMissing(_ evaluated: [Value], _ tokens: CreateTokens, _ ctx: ExecutionContext) throws {
        for i in nameOrder where tokens.keys[i] == nil && !evaluated[i].isNull {
            tokens.keys[i] = try ctx.createKey(keys[i])
        }
    }
}

/// The tokens one execution resolved for one CREATE step (kept by the `ExecutionContext`, so a cached plan
/// shared by concurrent executions has no mutable state).
final class CreateTokens {
    var keys: [PropertyKeyToken?]
    var labels: [LabelToken]?
    var type: RelationshipTypeToken?

    init(keyCount: Int) { keys = Array(repeating: nil, count: keyCount) }
}

/// `CREATE (n:Labels {k: expr, …})` for one row.
final class CreateNodeStep {
    let labels: [String]
    let properties: CreatePropertySlots
    /// How many labels the node gets (repeated labels count once, as in `Writes.createNode`).
    private let distinctLabelCount: Int

    init(labels: [String], properties: CreatePropertySlots) {
        self.labels = labels
        self.properties = properties
        self.distinctLabelCount = Set(labels).count
    }

    func run(_ row: Row, _ ctx: ExecutionContext) throws -> Value {
        let evaluated = try properties.evaluate(row, ctx)
        let tokens = ctx.createTokens(for: self, keyCount: properties.keys.count)
        let labelTokens: [LabelToken]
        if let resolved = tokens.labels {
            labelTokens = resolved
        } else {
            labelTokens = try labels.map { try ctx.createLabel($0) }
            tokens.labels = labelTokens
        }
        try properties.checkStorable(evaluated)
        let tokenized = try properties.tokenized(evaluated, tokens, ctx)
        let id = try ctx.tx.createNode(labels: labelTokens, properties: tokenized)
        ctx.stats.stats.nodesCreated += 1
        ctx.stats.stats.labelsAdded += distinctLabelCount
        ctx.stats.stats.propertiesSet += tokenized.count
        return ctx.nodeRef(id)
    }
}

/// `CREATE (a)-[:TYPE {k: expr, …}]->(b)` for one row.
final class CreateRelationshipStep {
    let type: String
    let properties: CreatePropertySlots

    init(type: String, properties: CreatePropertySlots) {
        self.type = type
        self.properties = properties
    }

    func run(from: Value, to: Value, _ row: Row, _ ctx: ExecutionContext) throws -> Value {
        let evaluated = try properties.evaluate(row, ctx)
        guard let a = nodeID(from), let b = nodeID(to) else {
            throw Writes.missingRelationshipNode(type)
        }
        try properties.checkStorable(evaluated)
        let tokens = ctx.createTokens(for: self, keyCount: properties.keys.count)
        let typeToken: RelationshipTypeToken
        if let resolved = tokens.type {
            typeToken = resolved
        } else {
            typeToken = try ctx.createRelType(type)
            tokens.type = typeToken
        }
        let tokenized = try properties.tokenized(evaluated, tokens, ctx)
        let id = try ctx.tx.createRelationship(from: a, to: b, type: typeToken, properties: tokenized)
        ctx.stats.stats.relationshipsCreated += 1
        ctx.stats.stats.propertiesSet += tokenized.count
        return try ctx.relRef(RelationshipInfo(id: id, type: typeToken, startNode: a, endNode: b))
    }
}

import Foundation
import GraphKernel
import GraphValues

/// Everything one execution of a statement shares: the transaction, parameters, counters and token caches.
///
/// Nodes and relationships travel through operators as references (a `NodeValue` with only its id, a
/// `RelationshipValue` without properties); `materialize` turns them into full values when a row leaves the
/// engine.
final class ExecutionContext {
    let tx: any GraphWriteOperations
    let parameters: [String: Value]
    let options: ExecutionOptions
    let stats: StatisticsBox
    let temporal: TemporalContext
    let registry: ProcedureRegistry
    let engine: CypherEngine?
    private var labelTokens: [String: LabelToken] = [:]
    private var typeTokens: [String: RelationshipTypeToken] = [:]
    private var keyTokens: [String: PropertyKeyToken] = [:]
    private var typeNames: [RelationshipTypeToken: String] = [:]
    private var keyNames: [PropertyKeyToken: String] = [:]
    private var labelNames: [LabelToken: String] = [:]
    private var counters: [ObjectIdentifier: ProfileCounter] = [:]
    /// Tokens resolved by each compiled CREATE step during this execution (`CreateTokens`).
    private var createTokens: [ObjectIdentifier: CreateTokens] = [:]
    /// Nodes and relationships deleted by this statement (returned as id-only values if projected later).
    var deletedNodes = Set<Int64>()
    var deletedRelationships = Set<Int64>()

    func counter(for plan: LogicalPlan) -> ProfileCounter {
        let k = ObjectIdentifier(plan)
        if let c = counters[k] { return c }
        let c = ProfileCounter()
        counters[k] = c
        return c
    }

    /// `materialize`, except that entities this statement deleted come back with what is known of them (id,
    /// type, ends) instead of failing, as Neo4j returns deleted entities.
    func materializeResult(_ v: Value) throws -> Value {
        switch v {
        case .node(let n) where deletedNodes.contains(n.id): return v
        case .relationship(let r) where deletedRelationships.contains(r.id): return v
        case .null, .boolean, .integer, .float, .string: return v
        default: return try materialize(v)
        }
    }

    init(tx: any GraphWriteOperations, parameters: [String: Value], options: ExecutionOptions,
         registry: ProcedureRegistry, engine: CypherEngine?) {
        self.tx = tx
        self.parameters = parameters
        self.options = options
        self.stats = StatisticsBox()
        self.registry = registry
        self.engine = engine
        let now = options.statementTimeEpochNanos ?? Int64(Date().timeIntervalSince1970 * 1_000_000_000)
        self.temporal = TemporalContext(statementTimeEpochNanos: now, defaultTimeZone: options.defaultTimeZone)
        let spare = ProfileCounter()
        self.spareCounter = spare
        self.hits = spare
    }

    private let spareCounter: ProfileCounter

    // MARK: Tokens (cached; a missing token is looked up again since a later CREATE may add it)

    func label(_ name: String) throws -> LabelToken? {
        if let t = labelTokens[name] { return t }
        let t = try tx.labelToken(name)
        if let t { labelTokens[name] = t }
        return t
    }

    func relType(_ name: String) throws -> RelationshipTypeToken? {
        if let t = typeTokens[name] { return t }
        let t = try tx.relationshipTypeToken(name)
        if let t { typeTokens[name] = t }
        return t
    }

    func key(_ name: String) throws -> PropertyKeyToken? {
        if let t = keyTokens[name] { return t }
        let t = try tx.propertyKeyToken(name)
        if let t { keyTokens[name] = t }
        return t
    }

    func createLabel(_ name: String) throws -> LabelToken {
        if let t = labelTokens[name] { return t }
        let t = try tx.getOrCreateLabelToken(name)
        labelTokens[name] = t
        return t
    }

    func createRelType(_ name: String) throws -> RelationshipTypeToken {
        if let t = typeTokens[name] { return t }
        let t = try tx.getOrCreateRelationshipTypeToken(name)
        typeTokens[name] = t
        return t
    }

    /// The tokens this execution resolved for the CREATE step `step` (empty the first time).
    @inline(__always)
    func createTokens(for step: AnyObject, keyCount: Int) -> CreateTokens {
        let id = ObjectIdentifier(step)
        if let tokens = createTokens[id] { return tokens }
        let tokens = CreateTokens(keyCount: keyCount)
        createTokens[id] = tokens
        return tokens
    }

    /// The token of a property key this context has already resolved, without asking the transaction.
    func cachedKey(_ name: String) -> PropertyKeyToken? { keyTokens[name] }

    func createKey(_ name: String) throws -> PropertyKeyToken {
        if let t = keyTokens[name] { return t }
        let t = try tx.getOrCreatePropertyKeyToken(name)
        keyTokens[name] = t
        return t
    }

    func typeName(_ t: RelationshipTypeToken) throws -> String {
        if let n = typeNames[t] { return n }
        let n = try tx.relationshipTypeName(t)
        typeNames[t] = n
        return n
    }

    func keyName(_ t: PropertyKeyToken) throws -> String {
        if let n = keyNames[t] { return n }
        let n = try tx.propertyKeyName(t)
        keyNames[t] = n
        return n
    }

    func labelName(_ t: LabelToken) throws -> String {
        if let n = labelNames[t] { return n }
        let n = try tx.labelName(t)
        labelNames[t] = n
        return n
    }

    // MARK: Entity references

    @inline(__always)
    func nodeRef(_ id: NodeID) -> Value {
        .node(NodeValue(id: id.rawValue, labels: [], properties: [:]))
    }

    func relRef(_ info: RelationshipInfo) throws -> Value {
        .relationship(RelationshipValue(id: info.id.rawValue, startNodeId: info.startNode.rawValue,
                                        endNodeId: info.endNode.rawValue, type: try typeName(info.type),
                                        properties: [:]))
    }

    func property(_ entity: Value, _ name: String) throws -> Value {
        switch entity {
        case .null: return .null
        case .node(let n):
            hits.dbHits += 1
            guard let k = try key(name) else {
                if try !tx.nodeExists(NodeID(n.id)) { throw deletedNode(n.id) }
                return .null
            }
            return try nodeProperty(n.id, k)
        case .relationship(let r):
            hits.dbHits += 1
            guard let k = try key(name) else { return .null }
            return try tx.relationshipProperty(RelationshipID(r.id), k)
        case .map(let m): return m[name] ?? .null
        default:
            if let v = try TemporalFunctions.property(of: entity, name) { return v }
            throw DatabaseError(.typeError, "Type mismatch: expected a map but was \(CypherText.literal(entity))")
        }
    }

    /// Property key tokens by compiled access site (`n.name` in the query text), so a hot property access costs
    /// an array lookup instead of hashing the key name per row.
    @exclusivity(unchecked) private var siteTokens: [PropertyKeyToken] = []

    @inline(__always)
    func property(_ entity: Value, _ name: String, site: Int) throws -> Value {
        switch entity {
        case .node(let n):
            if site < siteTokens.count, siteTokens[site] >= 0 {
                hits.dbHits += 1
                return try nodeProperty(n.id, siteTokens[site])
            }
            guard let k = try key(name) else { return try property(entity, name) }
            if site >= siteTokens.count {
                siteTokens.append(contentsOf: repeatElement(-1, count: site + 1 - siteTokens.count))
            }
            siteTokens[site] = k
            hits.dbHits += 1
            return try nodeProperty(n.id, k)
        default:
            return try property(entity, name)
        }
    }

    // MARK: PROFILE db hits of expressions

    /// The counter of the operator evaluating expressions right now: property reads made by its expressions are
    /// its db hits (PROFILE). Operators set it before evaluating; it is never nil (a spare counter at first).
    /// Unowned(unsafe): every operator keeps its counter alive for the whole execution, and this is per row.
    @exclusivity(unchecked) unowned(unsafe) var hits: ProfileCounter

    // MARK: Time-outs and termination

    @exclusivity(unchecked) private var ticks = 0

    /// Called once per unit of work that may not touch the kernel (an UNWIND element, a comprehension step):
    /// every 1024 calls asks the transaction whether it has timed out or been terminated, which the kernel
    /// otherwise only notices on reads.
    @inline(__always)
    func tick() throws {
        ticks &+= 1
        if ticks & 1023 == 0 { try tx.checkUsable() }
    }

    // MARK: Cached properties (CacheProperties)

    @exclusivity(unchecked) private var propertyCaches: [CachedNodeProperties?] = []

    /// The memo of cache group `group` (numbered by the planner), created on first use.
    func propertyCache(_ group: Int, keys: Int) -> CachedNodeProperties {
        if group >= propertyCaches.count {
            propertyCaches.append(contentsOf: repeatElement(nil, count: group + 1 - propertyCaches.count))
        }
        if let c = propertyCaches[group] { return c }
        let c = CachedNodeProperties(count: keys)
        propertyCaches[group] = c
        return c
    }

    /// Key `index` of cache group `group` when it holds the current row's node, else nil (read it normally).
    @inline(__always)
    func cachedProperty(_ group: Int, _ index: Int) -> Value? {
        guard group < propertyCaches.count, let c = propertyCaches[group], c.valid else { return nil }
        return c.values[index]
    }

    /// A node's property; null for a node another transaction deleted and committed after this statement came
    /// across it (read committed, as Neo4j reads it), an error for one this transaction deleted.
    @inline(__always)
    func nodeProperty(_ id: Int64, _ key: PropertyKeyToken) throws -> Value {
        do {
            return try tx.nodeProperty(NodeID(id), key)
        } catch let error as DatabaseError where error.code == .entityNotFound {
            if try tx.nodeDeletedElsewhere(NodeID(id)) { return .null }
            throw error
        }
    }

    func deletedNode(_ id: Int64) -> DatabaseError {
        DatabaseError(.entityNotFound, "Node with id \(id) has been deleted in this transaction")
    }

    func properties(_ entity: Value) throws -> [String: Value] {
        switch entity {
        case .node(let n):
            var d: [String: Value] = [:]
            let props: [(PropertyKeyToken, Value)]
            do {
                props = try tx.nodeProperties(NodeID(n.id))
            } catch let error as DatabaseError where error.code == .entityNotFound {
                // Deleted by a transaction that committed since: no properties left to read (read committed).
                guard try tx.nodeDeletedElsewhere(NodeID(n.id)) else { throw error }
                props = []
            }
            for (k, v) in props { d[try keyName(k)] = v }
            return d
        case .relationship(let r):
            var d: [String: Value] = [:]
            for (k, v) in try tx.relationshipProperties(RelationshipID(r.id)) { d[try keyName(k)] = v }
            return d
        case .map(let m): return m
        default:
            throw DatabaseError(.typeError, "Expected a node, relationship or map but got \(Semantics.typeName(entity))")
        }
    }

    func labels(_ node: Int64) throws -> [String] {
        try tx.labels(of: NodeID(node)).map { try labelName($0) }
    }

    /// Replaces entity references (also inside lists, maps and paths) with full values.
    func materialize(_ v: Value) throws -> Value {
        switch v {
        case .node(let n): return .node(try materializeNode(n.id))
        case .relationship(let r): return .relationship(try materializeRel(r))
        case .path(let p):
            return .path(PathValue(nodes: try p.nodes.map { try materializeNode($0.id) },
                                   relationships: try p.relationships.map { try materializeRel($0) }))
        case .list(let items):
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for i in items { out.append(try materialize(i)) }
            return .list(out)
        case .map(let m):
            var out: [String: Value] = [:]
            for (k, x) in m { out[k] = try materialize(x) }
            return .map(out)
        default: return v
        }
    }

    func materializeNode(_ id: Int64) throws -> NodeValue {
        NodeValue(id: id, labels: try labels(id), properties: try properties(.node(NodeValue(id: id, labels: [], properties: [:]))))
    }

    func materializeRel(_ r: RelationshipValue) throws -> RelationshipValue {
        var out = r
        out.properties = try properties(.relationship(r))
        return out
    }
}

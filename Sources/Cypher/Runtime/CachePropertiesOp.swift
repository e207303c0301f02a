import GraphKernel
import GraphValues

/// The properties of the node of the current row, as read by a `CachePropertiesOp`: `values[i]` is key `i`.
///
/// Kept beside the row rather than in row slots, so the operator passes rows through untouched (no copy of the
/// row buffer). Only the expressions of the one projection directly above the operator read it, right after
/// the operator produced the row, so `valid` always describes the row they evaluate.
final class CachedNodeProperties {
    // Unchecked: one execution is single-threaded and these are touched once per row; dynamic exclusivity checks
    // cost more than the accesses themselves.
    /// Whether `values` hold the current row's node (false: not a node, or the read must be left to the fallback).
    @exclusivity(unchecked) var valid = false
    @exclusivity(unchecked) var values: [Value]

    init(count: Int) { values = Array(repeating: .null, count: count) }
}

/// Neo4j's `CacheProperties`: reads the properties a projection or aggregation above needs from a node with one
/// kernel call per row (one walk of the node's property chain) instead of one call per `n.key` expression.
///
/// The expressions compiled for the operator above read the memo when it holds their row's node and fall back to
/// a normal property read otherwise (the slot is not a node, a token does not exist yet, the node was deleted),
/// so the fallback reports errors exactly as an uncached read would.
final class CachePropertiesOp: Op {
    private let source: Op
    private let nodeSlot: Int
    private let keys: [String]
    private let cache: CachedNodeProperties
    private let ctx: ExecutionContext
    /// Tokens of `keys`, resolved on the first row; nil when one does not exist (every read then falls back).
    private var tokens: [PropertyKeyToken]??

    init(source: Op, nodeSlot: Int, keys: [String], cache: CachedNodeProperties, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.nodeSlot = nodeSlot
        self.keys = keys
        self.cache = cache
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        guard let row = try source.next() else { return nil }
        cache.valid = false
        guard case .node(let n) = row[nodeSlot], !ctx.deletedNodes.contains(n.id) else { return row }
        if tokens == nil {
            var resolved: [PropertyKeyToken] = []
            for k in keys {
                guard let t = try ctx.key(k) else { break }
                resolved.append(t)
            }
            tokens = .some(resolved.count == keys.count ? resolved : nil)
        }
        guard let toks = tokens!, !toks.isEmpty else { return row }
        do {
            try ctx.tx.nodeProperties(NodeID(n.id), keys: toks, into: &cache.values)
        } catch let error as DatabaseError where error.code == .entityNotFound {
            // The fallback read raises the error (or not) exactly where the query reads the property.
            return row
        }
        counter.dbHits += toks.count
        cache.valid = true
        return row
    }
}

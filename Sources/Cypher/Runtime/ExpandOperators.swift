import GraphKernel
import GraphValues

/// Relationship types of a pattern, resolved to tokens when the operator runs (a type created later in the
/// same statement must still be found). `nil` from `resolve` means "no relationship can match".
struct TypeFilter {
    let names: [String]

    func resolve(_ ctx: ExecutionContext) throws -> [RelationshipTypeToken]? {
        if names.isEmpty { return [] }
        var out: [RelationshipTypeToken] = []
        for n in names { if let t = try ctx.relType(n) { out.append(t) } }
        return out.isEmpty ? nil : out
    }
}

/// Slots holding relationships already bound by the same MATCH: a new relationship must differ from all of
/// them (openCypher relationship isomorphism). `isList` marks variable-length relationship lists.
struct UniquenessSlots {
    var slots: [(slot: Int, isList: Bool)] = []

    @inline(__always)
    func violates(_ rel: Int64, _ row: Row) -> Bool {
        for (s, isList) in slots {
            switch row[s] {
            case .relationship(let r) where !isList: if r.id == rel { return true }
            case .list(let l) where isList:
                for case .relationship(let r) in l where r.id == rel { return true }
            default: break
            }
        }
        return false
    }
}

@inline(__always)
func nodeID(_ v: Value) -> NodeID? {
    if case .node(let n) = v { return NodeID(n.id) }
    return nil
}

/// An expansion that an aggregation directly above it may drive itself when all it computes is `count(*)`,
/// `count(end)` or `count(DISTINCT end)` of the expansion's end node, with no grouping keys: the rows, the
/// relationship values and the end node values are never built (see `AggregationOp`). The end node is never null
/// in a row the expansion produces, so `count(end)` is the row count.
protocol CountableExpansion: AnyObject {
    /// The slot of the end node the counted rows would hold.
    var endSlot: Int { get }
    /// Consumes the whole input and returns how many rows the operator would have produced and, when `distinct`,
    /// how many distinct end nodes those rows hold (else 0). PROFILE counts the rows and db hits as if produced.
    func countRows(distinct: Bool) throws -> (rows: Int, distinctEnds: Int)
}

/// Expand(All) / Expand(Into): for each row, follows the relationships of the node in `fromSlot`.
///
/// A node's relationships are read into one buffer reused for every input row (the kernel's `into:` variant), so
/// an expansion allocates nothing per input row beyond the rows it produces.
final class ExpandOp: Op, CountableExpansion {
    private let source: Op
    private let fromSlot: Int
    private let relSlot: Int
    private let toSlot: Int
    private let direction: Direction
    private let types: TypeFilter
    private let into: Bool
    private let unique: UniquenessSlots
    private let ctx: ExecutionContext
    private var current: Row?
    private var from = NodeID(0)
    private var target: NodeID?
    private var rels: [RelationshipInfo] = []
    private var relIndex = 0

    var endSlot: Int { toSlot }

    init(source: Op, fromSlot: Int, relSlot: Int, toSlot: Int, direction: Direction, types: TypeFilter, into: Bool,
         unique: UniquenessSlots, ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.fromSlot = fromSlot
        self.relSlot = relSlot
        self.toSlot = toSlot
        self.direction = direction
        self.types = types
        self.into = into
        self.unique = unique
        self.ctx = ctx
        super.init(counter: counter)
    }

    /// Reads the next input row with a node to expand into `rels`; false at the end of the input.
    private func advance() throws -> Bool {
        while let row = try source.next() {
            guard let f = nodeID(row[fromSlot]) else { continue }
            if into {
                guard let t = nodeID(row[toSlot]) else { continue }
                target = t
            }
            guard let tokens = try types.resolve(ctx) else { continue }
            from = f
            current = row
            try ctx.tx.relationships(of: f, direction: direction, types: tokens, into: &rels)
            relIndex = 0
            return true
        }
        return false
    }

    /// Whether `rel` (of `rels`, from `from`) makes a row out of `row`.
    @inline(__always)
    private func accepts(_ rel: RelationshipInfo, _ row: Row) -> Bool {
        if let target, rel.otherNode(from) != target { return false }
        return unique.slots.isEmpty || !unique.violates(rel.id.rawValue, row)
    }

    override func produce() throws -> Row? {
        while true {
            if current != nil {
                while relIndex < rels.count {
                    let rel = rels[relIndex]
                    relIndex += 1
                    counter.dbHits += 1
                    if !accepts(rel, current!) { continue }
                    current![relSlot] = try ctx.relRef(rel)
                    if !into { current![toSlot] = ctx.nodeRef(rel.otherNode(from)) }
                    return current
                }
                current = nil
            }
            guard try advance() else { return nil }
        }
    }

    func countRows(distinct: Bool) throws -> (rows: Int, distinctEnds: Int) {
        var rows = 0
        var ends = NodeIDSet(capacity: distinct ? 256 : 0)
        while try advance() {
            let row = current!
            let from = self.from
            counter.dbHits += rels.count
            for rel in rels where accepts(rel, row) {
                rows += 1
                if distinct { _ = ends.insert(rel.otherNode(from)) }
            }
        }
        current = nil
        counter.rows += rows
        return (rows, ends.count)
    }
}

/// VarLengthExpand(All/Into): every path of `min...max` relationships from the node in `fromSlot`, each
/// relationship used at most once per path (and not bound elsewhere in the MATCH).
final class VarExpandOp: Op {
    private let source: Op
    private let fromSlot: Int
    private let relSlot: Int
    private let toSlot: Int
    private let direction: Direction
    private let types: TypeFilter
    private let minLength: Int
    private let maxLength: Int
    private let into: Bool
    private let unique: UniquenessSlots
    private let reverseOutput: Bool
    private let relPredicate: Eval?
    private let predicateSlot: Int
    private let ctx: ExecutionContext
    private var current: Row?
    /// DFS stack of (node, path so far, iterator over its relationships).
    private var stack: [(NodeID, AnyIterator<RelationshipInfo>?)] = []
    private var path: [RelationshipInfo] = []
    private var pathValues: [Value] = []
    private var tokens: [RelationshipTypeToken] = []
    private var target: NodeID?
    private var pendingStart = false

    init(source: Op, fromSlot: Int, relSlot: Int, toSlot: Int, direction: Direction, types: TypeFilter,
         minLength: Int, maxLength: Int, into: Bool, unique: UniquenessSlots, reverseOutput: Bool,
         relPredicate: Eval?, predicateSlot: Int, ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.fromSlot = fromSlot
        self.relSlot = relSlot
        self.toSlot = toSlot
        self.direction = direction
        self.types = types
        self.minLength = minLength
        self.maxLength = maxLength
        self.into = into
        self.unique = unique
        self.reverseOutput = reverseOutput
        self.relPredicate = relPredicate
        self.predicateSlot = predicateSlot
        self.ctx = ctx
        super.init(counter: counter)
    }

    private func emit(_ row: Row, end: NodeID) throws -> Row? {
        if let target, end != target { return nil }
        var r = row
        r[relSlot] = .list(reverseOutput ? pathValues.reversed() : pathValues)
        if !into { r[toSlot] = ctx.nodeRef(end) }
        return r
    }

    override func produce() throws -> Row? {
        while true {
            if let row = current {
                if pendingStart {
                    pendingStart = false
                    let start = stack[0].0
                    if minLength == 0, let r = try emit(row, end: start) { return r }
                }
                while let top = stack.last {
                    guard path.count < maxLength, let it = top.1 else {
                        stack.removeLast()
                        if !path.isEmpty { path.removeLast(); pathValues.removeLast() }
                        continue
                    }
                    guard let rel = it.next() else {
                        stack.removeLast()
                        if !path.isEmpty { path.removeLast(); pathValues.removeLast() }
                        continue
                    }
                    counter.dbHits += 1
                    if path.contains(where: { $0.id == rel.id }) { continue }
                    if !unique.slots.isEmpty && unique.violates(rel.id.rawValue, row) { continue }
                    let relValue = try ctx.relRef(rel)
                    if let relPredicate {
                        var probe = row
                        probe[predicateSlot] = relValue
                        if try Semantics.truth(relPredicate(probe, ctx)) != true { continue }
                    }
                    let next = rel.otherNode(top.0)
                    path.append(rel)
                    pathValues.append(relValue)
                    let deeper = path.count < maxLength
                        ? try ctx.tx.relationships(of: next, direction: direction, types: tokens) : nil
                    stack.append((next, deeper))
                    if path.count >= minLength, let r = try emit(row, end: next) { return r }
                }
                current = nil
            }
            guard let row = try source.next() else { return nil }
            guard let f = nodeID(row[fromSlot]) else { continue }
            if into {
                guard let t = nodeID(row[toSlot]) else { continue }
                target = t
            }
            guard let tk = try types.resolve(ctx) else {
                if minLength == 0 {
                    // Zero-length paths exist even when no relationship type does.
                    tokens = []
                    stack = [(f, nil)]
                    path = []
                    pathValues = []
                    current = row
                    pendingStart = true
                }
                continue
            }
            tokens = tk
            path = []
            pathValues = []
            stack = [(f, maxLength > 0 ? try ctx.tx.relationships(of: f, direction: direction, types: tk) : nil)]
            current = row
            pendingStart = true
        }
    }
}

/// VarLengthExpand(Pruning): the distinct end nodes of `VarLengthExpand(All)` from the node in `fromSlot`, one row
/// each, found by breadth-first search instead of by enumerating paths. The planner uses it only where the rows'
/// multiplicity and the relationship list cannot be observed (an aggregation whose aggregates are all DISTINCT, or
/// min/max, reading neither the relationships nor a path) — as Neo4j 3.4+ does for the same shape.
///
/// Why the node set is the same: with a directed pattern (`->` or `<-`) and `minLength` ≤ 1, a node other than
/// the start ends a relationship-unique path of length 1...max exactly when its shortest distance from the start
/// is at most max (a shortest path repeats no node, so no relationship). The start itself ends such a path exactly
/// when it lies on a cycle of length ≤ max, that is when some relationship leads back to it from a node at
/// distance ≤ max − 1 (a shortest closed walk is a simple cycle); with `minLength` 0 it is always an end node.
/// Undirected patterns (a closed walk may reuse its relationship there), `minLength` ≥ 2, Into, and relationships
/// bound elsewhere in the MATCH keep the path-enumerating `VarExpandOp`.
final class PruningVarExpandOp: Op, CountableExpansion {
    /// What a search works in, reused from one level and one input row to the next (a search allocates nothing
    /// once these have grown). A search takes it into a local variable for its duration: a class's stored
    /// properties are checked for exclusive access at run time on every mutation, a local's are not.
    private struct SearchState {
        var visited = NodeIDSet(capacity: 256)
        var frontier: [NodeID] = []
        var nextFrontier: [NodeID] = []
        var rels: [RelationshipInfo] = []
        /// Where each node's relationships end in `rels` after a multi-node kernel call.
        var relEnds: [Int] = []
        /// The end nodes of the last search, in breadth-first order.
        var ends: [NodeID] = []
        /// The first input row's end nodes while `countRows` counts.
        var firstEnds: [NodeID] = []

        /// What the instance holds while a search has its state (never searched in).
        static let moved = SearchState()
    }

    private let source: Op
    private let fromSlot: Int
    private let relSlot: Int
    private let toSlot: Int
    private let direction: Direction
    private let types: TypeFilter
    private let minLength: Int
    private let maxLength: Int
    private let relPredicate: Eval?
    private let predicateSlot: Int
    private let ctx: ExecutionContext
    private var current: Row?
    private var state = SearchState()
    private var index = 0
    /// Frontier nodes per kernel call: enough to overlap many lookups, few enough to keep the buffer small.
    private static let nodesPerCall = 128

    var endSlot: Int { toSlot }

    init(source: Op, fromSlot: Int, relSlot: Int, toSlot: Int, direction: Direction, types: TypeFilter,
         minLength: Int, maxLength: Int, relPredicate: Eval?, predicateSlot: Int, ctx: ExecutionContext,
         counter: ProfileCounter) {
        precondition(direction != .both && minLength <= 1 && minLength >= 0,
                     "VarLengthExpand(Pruning) needs a directed pattern and minLength ≤ 1, got \(direction) \(minLength)")
        self.source = source
        self.fromSlot = fromSlot
        self.relSlot = relSlot
        self.toSlot = toSlot
        self.direction = direction
        self.types = types
        self.minLength = minLength
        self.maxLength = maxLength
        self.relPredicate = relPredicate
        self.predicateSlot = predicateSlot
        self.ctx = ctx
        super.init(counter: counter)
    }

    /// Fills `s.ends` with the end nodes from `start`, in breadth-first order: levels of node ids, each node's
    /// relationships read into the reused `s.rels` buffer, visited nodes in an id-keyed open-addressing set.
    private func search(from start: NodeID, row: Row, in s: inout SearchState) throws {
        s.ends.removeAll(keepingCapacity: true)
        guard let tokens = try types.resolve(ctx) else {
            if minLength == 0 { s.ends.append(start) }
            return
        }
        s.visited.removeAll()
        _ = s.visited.insert(start)
        var startIsEnd = minLength == 0
        if startIsEnd { s.ends.append(start) }
        s.frontier.removeAll(keepingCapacity: true)
        s.frontier.append(start)
        var depth = 0
        var probe = row
        var hits = 0
        let tx = ctx.tx
        while depth < maxLength && !s.frontier.isEmpty {
            s.nextFrontier.removeAll(keepingCapacity: true)
            // The last level's nodes are only ends: they are not expanded, so they need not be queued.
            let last = depth + 1 == maxLength
            // The frontier is expanded in chunks with one kernel call each, which looks the chunk's nodes up
            // together (overlapping their memory accesses); `relEnds` says where each node's relationships stop.
            var chunkStart = 0
            while chunkStart < s.frontier.count {
                let chunk = s.frontier[chunkStart..<min(s.frontier.count, chunkStart + Self.nodesPerCall)]
                chunkStart = chunk.endIndex
                try tx.relationships(of: chunk, direction: direction, types: tokens, into: &s.rels, ends: &s.relEnds)
                hits += s.rels.count
                var begin = 0
                for (k, node) in zip(0..., chunk) {
                    let end = s.relEnds[k]
                    defer { begin = end }
                    for rel in s.rels[begin..<end] {
                        if let relPredicate {
                            probe[predicateSlot] = try ctx.relRef(rel)
                            if try Semantics.truth(relPredicate(probe, ctx)) != true { continue }
                        }
                        let other = rel.otherNode(node)
                        if other == start {
                            if !startIsEnd {
                                startIsEnd = true
                                s.ends.append(start)
                            }
                        } else if s.visited.insert(other) {
                            s.ends.append(other)
                            if !last { s.nextFrontier.append(other) }
                        }
                    }
                }
            }
            swap(&s.frontier, &s.nextFrontier)
            depth += 1
        }
        counter.dbHits += hits
        // The kernel's reads fail once the transaction is terminated; check anyway in case the search read nothing.
        try tx.checkUsable()
    }

    /// Runs `body` on the search state, moved out of the instance for the duration (see `SearchState`).
    @inline(__always)
    private func withState<T>(_ body: (inout SearchState) throws -> T) rethrows -> T {
        var s = state
        state = SearchState.moved
        defer { state = s }
        return try body(&s)
    }

    override func produce() throws -> Row? {
        while true {
            if current != nil, index < state.ends.count {
                current![toSlot] = ctx.nodeRef(state.ends[index])
                index += 1
                return current
            }
            guard var row = try source.next() else { return nil }
            guard let f = nodeID(row[fromSlot]) else { continue }
            try withState { try search(from: f, row: row, in: &$0) }
            index = 0
            // The relationship list is unobservable here (the planner checked): leave no stale value behind.
            row[relSlot] = .null
            current = row
        }
    }

    func countRows(distinct: Bool) throws -> (rows: Int, distinctEnds: Int) {
        current = nil
        return try withState { s in
            var rows = 0
            var inputRows = 0
            // One input row (the usual case: a start node looked up by id) has distinct ends already, so its
            // count is the answer; the ends go into an id set only once a second row needs the union.
            var union: NodeIDSet?
            while let row = try source.next() {
                guard let f = nodeID(row[fromSlot]) else { continue }
                try search(from: f, row: row, in: &s)
                rows += s.ends.count
                inputRows += 1
                guard distinct else { continue }
                if inputRows == 1 {
                    swap(&s.ends, &s.firstEnds)
                    continue
                }
                if union == nil {
                    union = NodeIDSet(capacity: s.firstEnds.count + s.ends.count)
                    for end in s.firstEnds { _ = union!.insert(end) }
                }
                for end in s.ends { _ = union!.insert(end) }
            }
            counter.rows += rows
            return (rows, union?.count ?? (inputRows == 1 ? rows : 0))
        }
    }
}

/// shortestPath / allShortestPaths between two bound nodes, by breadth-first search.
final class ShortestPathOp: Op {
    private let source: Op
    private let fromSlot: Int
    private let toSlot: Int
    private let pathSlot: Int
    private let relSlot: Int?
    private let direction: Direction
    private let types: TypeFilter
    private let minLength: Int
    private let maxLength: Int
    private let all: Bool
    private let ctx: ExecutionContext
    private var pending: [Row] = []

    init(source: Op, fromSlot: Int, toSlot: Int, pathSlot: Int, relSlot: Int?, direction: Direction,
         types: TypeFilter, minLength: Int, maxLength: Int, all: Bool, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.fromSlot = fromSlot
        self.toSlot = toSlot
        self.pathSlot = pathSlot
        self.relSlot = relSlot
        self.direction = direction
        self.types = types
        self.minLength = minLength
        self.maxLength = maxLength
        self.all = all
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            guard let row = try source.next() else { return nil }
            guard let a = nodeID(row[fromSlot]), let b = nodeID(row[toSlot]), let tokens = try types.resolve(ctx) else {
                continue
            }
            for rels in try search(a, b, tokens) {
                var r = row
                var nodes = [NodeValue(id: a.rawValue, labels: [], properties: [:])]
                var relValues: [RelationshipValue] = []
                var cur = a
                for rel in rels {
                    cur = rel.otherNode(cur)
                    nodes.append(NodeValue(id: cur.rawValue, labels: [], properties: [:]))
                    if case .relationship(let rv) = try ctx.relRef(rel) { relValues.append(rv) }
                }
                r[pathSlot] = .path(PathValue(nodes: nodes, relationships: relValues))
                if let relSlot { r[relSlot] = .list(relValues.map { .relationship($0) }) }
                pending.append(r)
                if !all { break }
            }
        }
    }

    /// Layered BFS keeping every predecessor on a shortest route, then enumerating the routes.
    private func search(_ a: NodeID, _ b: NodeID, _ tokens: [RelationshipTypeToken]) throws -> [[RelationshipInfo]] {
        if a == b {
            return minLength == 0 ? [[]] : []
        }
        var depth: [NodeID: Int] = [a: 0]
        var preds: [NodeID: [RelationshipInfo]] = [:]
        var frontier = [a]
        var level = 0
        var found = false
        while !frontier.isEmpty && !found && level < maxLength {
            level += 1
            var next: [NodeID] = []
            for n in frontier {
                let it = try ctx.tx.relationships(of: n, direction: direction, types: tokens)
                while let rel = it.next() {
                    counter.dbHits += 1
                    let o = rel.otherNode(n)
                    if let d = depth[o] {
                        if d == level { preds[o, default: []].append(rel) }
                        continue
                    }
                    depth[o] = level
                    preds[o] = [rel]
                    next.append(o)
                    if o == b { found = true }
                }
            }
            frontier = next
        }
        guard found, level >= minLength else { return [] }
        var out: [[RelationshipInfo]] = []
        func walk(_ n: NodeID, _ suffix: [RelationshipInfo]) {
            if n == a {
                out.append(suffix)
                return
            }
            for rel in preds[n] ?? [] {
                let prev = rel.otherNode(n)
                guard let d = depth[prev], d == depth[n]! - 1 else { continue }
                walk(prev, [rel] + suffix)
                if !all && !out.isEmpty { return }
            }
        }
        walk(b, [])
        return out
    }
}

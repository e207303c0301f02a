import Foundation
import GraphKernel
import GraphValues

/// A planned statement: the operator tree and what the result looks like.
struct PlannedQuery {
    let columns: [String]
    let root: LogicalPlan
    /// Slots per row.
    let width: Int
    let queryType: CypherQueryType
    let parameterNames: Set<String>
    let writes: Bool
}

/// Turns an analysed AST into a logical plan over slot rows.
///
/// Planning is greedy and rule based: each pattern part starts from its cheapest node (bound variable, unique
/// index seek, index seek, label scan with the fewest nodes, all-nodes scan, using the kernel's counts), then
/// expands along the chain, applying every predicate as soon as the variables it reads are bound. Updating
/// clauses are separated from earlier reads (and later reads from earlier writes) by an Eager barrier.
final class QueryPlanner {
    let tx: any GraphReadOperations
    let registry: ProcedureRegistry
    let slots = SlotTable()
    var bound = Set<String>()
    var localVariables = Set<String>()
    var aggregateSlots: [String: Int] = [:]
    var parameterNames = Set<String>()
    /// Number of compiled property-access sites (each gets a per-execution token cache slot).
    var propertySites = 0
    /// While compiling the items of one projection: variable → key → (cache group, index) of the properties a
    /// CacheProperties operator below it reads in one kernel call.
    var cachedPropertyReads: [String: [String: (Int, Int)]] = [:]
    /// Number of CacheProperties groups planned (each gets a per-execution memo).
    var propertyCacheGroups = 0
    /// The label a chosen scan or seek already guarantees, so its label filter can be dropped.
    private var coveredLabel: (String, String)?
    var writes = false
    var reads = false
    private var readSinceEager = false
    private var writeSinceEager = false

    init(tx: any GraphReadOperations, registry: ProcedureRegistry) {
        self.tx = tx
        self.registry = registry
    }

    // MARK: - Statements

    func plan(_ query: Query) throws -> PlannedQuery {
        var branches: [(LogicalPlan, [String], [Int])] = []
        for single in query.singleQueries {
            bound = []
            aggregateSlots = [:]
            readSinceEager = false
            writeSinceEager = false
            branches.append(try planSingle(single, on: argumentPlan()))
        }
        let columns = branches[0].1
        let root: LogicalPlan
        if branches.count == 1 {
            let (p, _, colSlots) = branches[0]
            root = produceResults(p, columns: columns, slots: colSlots)
        } else {
            for b in branches where b.1 != columns {
                throw DatabaseError(.syntaxError, "All sub queries in an UNION must have the same column names")
            }
            let distinct = !(query.unions.first?.all ?? true)
            let selected = branches.map { (p, _, colSlots) in
                LogicalPlan("Projection", identifiers: columns, estimatedRows: p.estimatedRows, source: p) { ctx, src, _, c in
                    UpdateOp(source: src!, ctx: ctx, counter: c) { row, _ in row = colSlots.map { row[$0] } }
                }
            }
            let union = LogicalPlan(distinct ? "Distinct" : "Union", identifiers: columns,
                                    estimatedRows: selected.reduce(0) { $0 + $1.estimatedRows }, source: nil,
                                    inner: selected) { ctx, _, arg, c in
                UnionOp(branches: selected, distinct: distinct, argument: arg, ctx: ctx, counter: c)
            }
            root = produceResults(union, columns: columns, slots: Array(0..<columns.count))
        }
        let type: CypherQueryType = writes ? ((reads || !columns.isEmpty) ? .readWrite : .write) : .read
        return PlannedQuery(columns: columns, root: root, width: max(slots.count, columns.count), queryType: type,
                            parameterNames: parameterNames, writes: writes)
    }

    private func produceResults(_ p: LogicalPlan, columns: [String], slots colSlots: [Int]) -> LogicalPlan {
        if columns.isEmpty {
            return LogicalPlan("EmptyResult", estimatedRows: 0, source: p) { ctx, src, _, c in
                EmptyResultOp(source: src!, counter: c)
            }
        }
        return LogicalPlan("ProduceResults", identifiers: columns, estimatedRows: p.estimatedRows, source: p) {
            ctx, src, _, c in ProduceResultsOp(source: src!, slots: colSlots, ctx: ctx, counter: c)
        }
    }

    func argumentPlan() -> LogicalPlan {
        LogicalPlan("Argument", estimatedRows: 1, source: nil) { _, _, arg, c in ArgumentOp(arg, counter: c) }
    }

    func planSingle(_ q: SingleQuery, on start: LogicalPlan) throws -> (LogicalPlan, [String], [Int]) {
        var plan = start
        for clause in q.clauses {
            switch clause {
            case .return(let r):
                return try planProjection(r.projection, where: nil, on: plan, isReturn: true)
            case .call(let c) where c.isStandalone:
                return try planProcedureCall(c, on: plan, standalone: true)
            default:
                plan = try planClause(clause, on: plan)
            }
        }
        return (plan, [], [])
    }

    func planClause(_ clause: Clause, on input: LogicalPlan) throws -> LogicalPlan {
        switch clause {
        case .match(let m):
            let p = barrier(beforeRead: true, input)
            reads = true
            readSinceEager = true
            return try planMatch(m, on: p)
        case .with(let w):
            return try planProjection(w.projection, where: w.whereClause, on: input, isReturn: false).0
        case .return(let r):
            return try planProjection(r.projection, where: nil, on: input, isReturn: true).0
        case .unwind(let u):
            let list = try compile(u.expression)
            var rangeArgs: [Eval]?
            if case .function(let f) = u.expression.kind, f.lookupName == "range", (2...3).contains(f.arguments.count) {
                rangeArgs = try f.arguments.map(compile)
            }
            let slot = slots.fresh("unwind_\(u.variable)").1
            slots.rebind(u.variable, slot)
            bound.insert(u.variable)
            return LogicalPlan("Unwind", details: "\(u.variable)", identifiers: Array(bound),
                               estimatedRows: input.estimatedRows * 10, source: input) { ctx, src, _, c in
                UnwindOp(source: src!, list: list, rangeArguments: rangeArgs, slot: slot, ctx: ctx, counter: c)
            }
        case .create(let c):
            let p = barrier(beforeRead: false, input)
            noteWrite()
            let action = try planCreatePattern(c.pattern.parts)
            return LogicalPlan("Create", identifiers: Array(bound), estimatedRows: p.estimatedRows, source: p) {
                ctx, src, _, cn in UpdateOp(source: src!, ctx: ctx, counter: cn, action: action)
            }
        case .merge(let m):
            return try planMerge(m, on: input)
        case .set(let s):
            let p = barrier(beforeRead: false, input)
            noteWrite()
            let action = try planSetItems(s.items)
            return LogicalPlan("SetProperty", identifiers: Array(bound), estimatedRows: p.estimatedRows, source: p) {
                ctx, src, _, c in UpdateOp(source: src!, ctx: ctx, counter: c, action: action)
            }
        case .remove(let r):
            let p = barrier(beforeRead: false, input)
            noteWrite()
            var actions: [(inout Row, ExecutionContext) throws -> Void] = []
            for item in r.items {
                switch item {
                case .property(let entity, let key, _):
                    let e = try compile(entity)
                    actions.append { row, ctx in try Writes.setProperty(try e(row, ctx), key, .null, ctx) }
                case .labels(let variable, let labels, let pos):
                    let e = try compile(Expression(.variable(variable), at: pos))
                    actions.append { row, ctx in try Writes.setLabels(try e(row, ctx), labels, add: false, ctx) }
                }
            }
            return LogicalPlan("RemoveLabels", identifiers: Array(bound), estimatedRows: p.estimatedRows, source: p) {
                ctx, src, _, c in
                UpdateOp(source: src!, ctx: ctx, counter: c) { row, ctx in for a in actions { try a(&row, ctx) } }
            }
        case .delete(let d):
            let p = barrier(beforeRead: false, input)
            noteWrite()
            let exprs = try d.expressions.map(compile)
            let detach = d.detach
            return LogicalPlan(detach ? "DetachDelete" : "Delete", identifiers: Array(bound),
                               estimatedRows: p.estimatedRows, source: p) { ctx, src, _, c in
                UpdateOp(source: src!, ctx: ctx, counter: c) { row, ctx in
                    for e in exprs { try Writes.delete(try e(row, ctx), detach: detach, ctx) }
                }
            }
        case .foreach(let f):
            let p = barrier(beforeRead: false, input)
            noteWrite()
            let list = try compile(f.list)
            let savedBound = bound
            let (slot, restore) = bindLocal(f.variable)
            localVariables.remove(f.variable)
            bound.insert(f.variable)
            var inner = argumentPlan()
            for c in f.clauses { inner = try planClause(c, on: inner) }
            restore()
            bound = savedBound
            let body = inner
            return LogicalPlan("Foreach", identifiers: Array(bound), estimatedRows: p.estimatedRows, source: p,
                               inner: [body]) { ctx, src, _, c in
                UpdateOp(source: src!, ctx: ctx, counter: c) { row, ctx in
                    guard case .list(let items) = try Self.listOrNull(list(row, ctx)) else { return }
                    for item in items {
                        var r = row
                        r[slot] = item
                        let op = try body.instantiate(ctx, argument: r)
                        while try op.next() != nil {}
                    }
                }
            }
        case .call(let c):
            return try planProcedureCall(c, on: input, standalone: false).0
        case .loadCSV(let l):
            reads = true
            let url = try compile(l.url)
            let slot = slots.fresh("csv_\(l.variable)").1
            slots.rebind(l.variable, slot)
            bound.insert(l.variable)
            let sep = l.fieldTerminator?.first ?? ","
            return LogicalPlan("LoadCSV", identifiers: Array(bound), estimatedRows: input.estimatedRows * 1000,
                               source: input) { ctx, src, _, c in
                LoadCSVOp(source: src!, url: url, slot: slot, headers: l.withHeaders, separator: sep, ctx: ctx,
                          counter: c)
            }
        case .subquery(let s):
            let savedBound = bound
            guard s.query.unions.isEmpty else {
                throw DatabaseError(.unsupportedFeature, "UNION inside CALL { } subqueries is not supported")
            }
            let (innerPlan, _, _) = try planSingle(s.query.first, on: argumentPlan())
            bound.formUnion(savedBound)
            return LogicalPlan("Apply", identifiers: Array(bound), estimatedRows: input.estimatedRows, source: input,
                               inner: [innerPlan]) { ctx, src, _, c in
                OptionalApplyOp(source: src!, inner: innerPlan, nullSlots: [], optional: false, ctx: ctx, counter: c)
            }
        }
    }

    /// Inserts an Eager barrier where a write would otherwise interleave with reads of the same data.
    private func barrier(beforeRead: Bool, _ input: LogicalPlan) -> LogicalPlan {
        let needed = beforeRead ? writeSinceEager : readSinceEager
        guard needed else { return input }
        readSinceEager = false
        writeSinceEager = false
        return LogicalPlan("Eager", identifiers: Array(bound), estimatedRows: input.estimatedRows, source: input) {
            ctx, src, _, c in EagerOp(source: src!, limit: ctx.options.maxEagerRows, counter: c)
        }
    }

    private func noteWrite() {
        writes = true
        writeSinceEager = true
    }

    // MARK: - MATCH

    private func planMatch(_ m: MatchClause, on input: LogicalPlan) throws -> LogicalPlan {
        if m.optional {
            let before = bound
            let inner = try planPattern(m.pattern.parts, where: m.whereClause, on: argumentPlan())
            let nullSlots = bound.subtracting(before).compactMap { slots.lookup($0) }
            return LogicalPlan("Apply", details: "OPTIONAL MATCH", identifiers: Array(bound),
                               estimatedRows: max(input.estimatedRows, inner.estimatedRows), source: input,
                               inner: [inner]) { ctx, src, _, c in
                OptionalApplyOp(source: src!, inner: inner, nullSlots: nullSlots, optional: true, ctx: ctx, counter: c)
            }
        }
        return try planPattern(m.pattern.parts, where: m.whereClause, on: input)
    }

    /// A pending predicate of a MATCH: applied as soon as `deps` are bound.
    struct Pending {
        var expr: Expression?
        var custom: (() throws -> Eval)?
        var deps: Set<String>
        var done = false
    }

    /// A pattern part with every element named (anonymous ones get generated names).
    struct NamedPart {
        var part: PatternPart
        var nodes: [String]
        var rels: [String]
    }

    func nameParts(_ parts: [PatternPart]) -> [NamedPart] {
        parts.map { part in
            let nodes = part.element.nodes.map { $0.variable ?? slots.fresh("anon_node").0 }
            let rels = part.element.relationships.map { $0.variable ?? slots.fresh("anon_rel").0 }
            return NamedPart(part: part, nodes: nodes, rels: rels)
        }
    }

    /// Plans the parts of a MATCH (or a MERGE's match, or a pattern expression) on top of `input`.
    func planPattern(_ parts: [PatternPart], where whereClause: Expression?, on input: LogicalPlan) throws
        -> LogicalPlan
    {
        let named = nameParts(parts)
        var patternVars = Set<String>()
        for p in named {
            patternVars.formUnion(p.nodes)
            patternVars.formUnion(p.rels)
            if let v = p.part.variable { patternVars.insert(v) }
        }
        var pending: [Pending] = []
        func add(_ e: Expression) {
            let deps = ExpressionAnalysis.freeVariables(e).intersection(patternVars.union(bound))
            pending.append(Pending(expr: e, deps: deps))
        }
        for p in named {
            for (i, n) in p.part.element.nodes.enumerated() {
                let v = Expression(.variable(p.nodes[i]), at: n.position)
                for l in n.labels { add(Expression(.hasLabels(v, [l]), at: n.position)) }
                if let extra = try addPropertyPredicates(n.properties, of: v, add: add, patternVars: patternVars) {
                    pending.append(extra)
                }
                if let pr = n.predicate { add(pr) }
            }
            for (i, r) in p.part.element.relationships.enumerated() where r.length == nil {
                let v = Expression(.variable(p.rels[i]), at: r.position)
                if let extra = try addPropertyPredicates(r.properties, of: v, add: add, patternVars: patternVars) {
                    pending.append(extra)
                }
                if let pr = r.predicate { add(pr) }
            }
        }
        if let w = whereClause { ExpressionAnalysis.conjuncts(w).forEach(add) }

        var plan = input
        var unique = UniquenessSlots()
        var remaining = named
        var planned = 0
        while !remaining.isEmpty {
            // Parts touching bound variables first (they need no scan), then in order.
            let idx = remaining.firstIndex { $0.nodes.contains(where: bound.contains) } ?? 0
            let part = remaining.remove(at: idx)
            let connected = part.nodes.contains(where: bound.contains) || part.rels.contains(where: bound.contains)
                || part.part.variable.map(bound.contains) == true
            if !connected, let joined = try planNodeHashJoin(part, on: plan, pending: &pending, unique: &unique) {
                plan = joined
            } else if !connected, part.part.selector == .all, planned > 0 || input.name != "Argument",
               isIndependent(part, pending: pending) {
                plan = try planCartesianProduct(part, left: plan, pending: &pending, unique: &unique)
            } else {
                plan = try planPart(part, on: plan, pending: &pending, unique: &unique)
            }
            planned += 1
        }
        plan = flush(&pending, plan, force: true)
        return plan
    }

    /// Whether node `i` of the part can be found by a unique index seek or an id seek from pending predicates.
    private func hasPointSeek(_ p: NamedPart, _ i: Int, _ pending: [Pending]) throws -> Bool {
        let name = p.nodes[i]
        for pred in pending where !pred.done {
            guard let e = pred.expr else { continue }
            if idSeekable(e, variable: name, bound: bound) != nil { return true }
            guard let (key, kind) = seekable(e, variable: name, bound: bound), case .equals = kind,
                  let keyToken = try tx.propertyKeyToken(key) else { continue }
            for label in p.part.element.nodes[i].labels {
                if let labelToken = try tx.labelToken(label),
                   let index = try tx.index(label: labelToken, propertyKey: keyToken), index.isUnique,
                   case .online = index.state {
                    return true
                }
            }
        }
        return false
    }

    /// A chain of two or more relationships whose two end nodes are both point seeks is planned from both ends
    /// and joined on its middle node (NodeHashJoin); nil when that does not apply.
    private func planNodeHashJoin(_ p: NamedPart, on input: LogicalPlan, pending: inout [Pending],
                                  unique: inout UniquenessSlots) throws -> LogicalPlan? {
        let element = p.part.element
        let n = p.nodes.count
        guard p.part.selector == .all, p.part.variable == nil, element.relationships.count >= 2,
              element.relationships.allSatisfy({ $0.length == nil }), Set(p.nodes).count == n,
              Set(p.rels).count == p.rels.count,
              try hasPointSeek(p, 0, pending), try hasPointSeek(p, n - 1, pending) else { return nil }
        let k = n / 2
        func sub(_ range: ClosedRange<Int>) -> NamedPart {
            let rels = range.lowerBound..<range.upperBound
            return NamedPart(
                part: PatternPart(variable: nil, element: PatternElement(
                    nodes: Array(element.nodes[range]), relationships: Array(element.relationships[rels]),
                    position: element.position), position: p.part.position),
                nodes: Array(p.nodes[range]), rels: Array(p.rels[rels]))
        }
        let leftPart = sub(0...k)
        let rightPart = sub(k...(n - 1))
        let joinName = p.nodes[k]
        // The right side runs once: its predicates may read nothing but its own variables and the join node.
        let rightOwn = Set(rightPart.nodes).union(rightPart.rels)
        for pred in pending where !pred.done && !pred.deps.isDisjoint(with: rightOwn.subtracting([joinName])) {
            guard pred.deps.isSubset(of: rightOwn), let e = pred.expr,
                  ExpressionAnalysis.freeVariables(e).isSubset(of: rightOwn) else { return nil }
        }
        let left = try planPart(leftPart, on: input, pending: &pending, unique: &unique)
        let leftJoinSlot = slots.lookup(joinName)!
        let leftBound = bound
        bound = []
        var rightUnique = UniquenessSlots()
        let right = try planPart(rightPart, on: argumentPlan(), pending: &pending, unique: &rightUnique)
        let rightBound = bound
        let rightJoinSlot = slots.lookup(joinName)!
        slots.rebind(joinName, leftJoinSlot)
        bound = leftBound.union(rightBound)
        let rightSlots = rightBound.subtracting([joinName]).compactMap { slots.lookup($0) }.sorted()
        let rightRelationshipSlots = rightPart.rels.compactMap { slots.lookup($0) }
        let leftUnique = unique
        unique.slots += rightUnique.slots
        let plan = LogicalPlan("NodeHashJoin", details: joinName, identifiers: Array(bound),
                               estimatedRows: max(1, min(left.estimatedRows, right.estimatedRows)), source: left,
                               inner: [right]) { ctx, src, _, c in
            NodeHashJoinOp(left: src!, right: right, leftJoinSlot: leftJoinSlot, rightJoinSlot: rightJoinSlot,
                           rightSlots: rightSlots, rightRelationshipSlots: rightRelationshipSlots,
                           leftUnique: leftUnique, ctx: ctx, counter: c)
        }
        return flush(&pending, plan, force: false)
    }

    /// Whether every pending predicate on the part's variables reads only the part itself (and parameters), so
    /// its rows do not depend on the rows it is combined with.
    private func isIndependent(_ part: NamedPart, pending: [Pending]) -> Bool {
        var own = Set(part.nodes).union(part.rels)
        if let v = part.part.variable { own.insert(v) }
        for p in pending where !p.done && !p.deps.isDisjoint(with: own) {
            if !p.deps.isSubset(of: own) { return false }
            if let e = p.expr, !ExpressionAnalysis.freeVariables(e).isSubset(of: own) { return false }
            if p.custom != nil { return false }
        }
        return true
    }

    /// Plans a pattern part that shares no variable with `left` on its own and combines the two with
    /// CartesianProduct (predicates reading both sides are applied after it).
    private func planCartesianProduct(_ part: NamedPart, left: LogicalPlan, pending: inout [Pending],
                                      unique: inout UniquenessSlots) throws -> LogicalPlan {
        // Replaying one run of the right side for every left row is only right when the uniqueness of
        // relationships across the two sides need not be checked per left row.
        let buffered = unique.slots.isEmpty || part.rels.isEmpty
        let savedBound = bound
        bound = []
        var rightUnique = buffered ? UniquenessSlots() : unique
        let right = try planPart(part, on: argumentPlan(), pending: &pending, unique: &rightUnique)
        let rightVariables = bound
        bound = savedBound.union(rightVariables)
        if buffered {
            unique.slots += rightUnique.slots
        } else {
            unique = rightUnique
        }
        let rightSlots = rightVariables.compactMap { slots.lookup($0) }.sorted()
        let plan = LogicalPlan("CartesianProduct", identifiers: Array(bound),
                               estimatedRows: left.estimatedRows * right.estimatedRows, source: left,
                               inner: [right]) { ctx, src, _, c in
            CartesianProductOp(left: src!, right: right, rightSlots: rightSlots, buffered: buffered, ctx: ctx,
                               counter: c)
        }
        return flush(&pending, plan, force: false)
    }

    private func addPropertyPredicates(_ props: Expression?, of v: Expression, add: (Expression) -> Void,
                                       patternVars: Set<String>) throws -> Pending? {
        guard let props else { return nil }
        if case .map(let entries) = props.kind {
            for e in entries {
                add(Expression(.binary(.equal, Expression(.property(v, e.key), at: e.value.position), e.value),
                               at: e.value.position))
            }
            return nil
        }
        // `(n $props)`: every key of the runtime map must match.
        guard case .variable(let name) = v.kind else { return nil }
        let deps = ExpressionAnalysis.freeVariables(props).intersection(patternVars.union(bound)).union([name])
        return Pending(expr: nil, custom: { [unowned self] in
            let m = try self.compile(props)
            let ent = try self.compile(v)
            return { row, ctx in
                let map = try Writes.propertyMap(try m(row, ctx), ctx)
                let e = try ent(row, ctx)
                for (k, x) in map {
                    guard Semantics.equals(try ctx.property(e, k), x) == true else { return .boolean(false) }
                }
                return .boolean(true)
            }
        }, deps: deps)
    }

    /// Adds Filters for every pending predicate whose variables are bound (all of them when `force`).
    private func flush(_ pending: inout [Pending], _ input: LogicalPlan, force: Bool) -> LogicalPlan {
        var plan = input
        var evals: [Eval] = []
        for i in pending.indices where !pending[i].done && (force || pending[i].deps.isSubset(of: bound)) {
            pending[i].done = true
            do {
                if let e = pending[i].expr {
                    evals.append(try compilePredicate(e))
                } else if let c = pending[i].custom {
                    evals.append(try c())
                }
            } catch {
                let err = error
                evals.append { _, _ in throw err }
            }
        }
        if evals.isEmpty { return plan }
        let predicate: Eval = evals.count == 1 ? evals[0] : { row, ctx in
            for e in evals where try Semantics.truth(e(row, ctx)) != true { return .boolean(false) }
            return .boolean(true)
        }
        plan = LogicalPlan("Filter", identifiers: Array(bound), estimatedRows: max(1, plan.estimatedRows * 0.5),
                           source: plan) { ctx, src, _, c in
            FilterOp(source: src!, predicate: predicate, ctx: ctx, counter: c)
        }
        return plan
    }

    private func bindVariable(_ name: String) -> Int {
        if let s = slots.lookup(name), bound.contains(name) { return s }
        let s = slots.fresh("v_\(name)").1
        slots.rebind(name, s)
        bound.insert(name)
        return s
    }

    private func planPart(_ p: NamedPart, on input: LogicalPlan, pending: inout [Pending],
                          unique: inout UniquenessSlots) throws -> LogicalPlan {
        let element = p.part.element
        if p.part.selector != .all {
            return try planShortestPath(p, on: input, pending: &pending)
        }
        var plan = input
        let start: Int
        if let b = p.nodes.firstIndex(where: bound.contains) {
            start = b
        } else {
            let (s, leaf) = try chooseStart(p, on: input, pending: &pending)
            start = s
            plan = leaf
        }
        plan = flush(&pending, plan, force: false)
        // Expand right of the start, then left.
        var order: [(rel: Int, from: Int, to: Int, forward: Bool)] = []
        for i in start..<element.relationships.count { order.append((i, i, i + 1, true)) }
        if start > 0 { for i in stride(from: start - 1, through: 0, by: -1) { order.append((i, i + 1, i, false)) } }
        for step in order {
            let r = element.relationships[step.rel]
            let fromName = p.nodes[step.from]
            let toName = p.nodes[step.to]
            let relName = p.rels[step.rel]
            let fromSlot = slots.lookup(fromName)!
            let into = bound.contains(toName)
            let toSlot = bindVariable(toName)
            var dir: Direction
            switch r.direction {
            case .outgoing: dir = .outgoing
            case .incoming: dir = .incoming
            case .both: dir = .both
            }
            if !step.forward && dir != .both { dir = dir == .outgoing ? .incoming : .outgoing }
            let types = TypeFilter(names: r.types)
            let relAlreadyBound = bound.contains(relName)
            let relSlot: Int
            var relCheck: Expression?
            if relAlreadyBound {
                let (fresh, s) = slots.fresh("rel_\(relName)")
                relSlot = s
                bound.insert(fresh)
                relCheck = Expression(.binary(.equal, .variable(fresh), .variable(relName)), at: r.position)
            } else {
                relSlot = bindVariable(relName)
            }
            let u = unique
            let typeText = r.types.isEmpty ? "" : ":" + r.types.joined(separator: "|")
            let arrowL = r.direction == .incoming ? "<-" : "-"
            let arrowR = r.direction == .outgoing ? "->" : "-"
            if let length = r.length {
                let minL = Int(length.minimum ?? 1)
                let maxL = length.maximum.map { Int($0) } ?? Int.max
                var relPredicate: Eval?
                let (_, predSlot) = slots.fresh("varlen_rel")
                if let props = r.properties, case .map(let entries) = props.kind, !entries.isEmpty {
                    let (probeName, probeSlot) = slots.fresh("varlen_probe")
                    _ = probeSlot
                    let probe = Expression(.variable(probeName), at: r.position)
                    localVariables.insert(probeName)
                    var conds: [Eval] = []
                    for e in entries {
                        conds.append(try compile(Expression(.binary(.equal, Expression(.property(probe, e.key),
                                                                                       at: r.position), e.value),
                                                            at: r.position)))
                    }
                    localVariables.remove(probeName)
                    let ps = probeSlot
                    relPredicate = { row, ctx in
                        var r2 = row
                        r2[ps] = row[predSlot]
                        for c in conds where try Semantics.truth(c(r2, ctx)) != true { return .boolean(false) }
                        return .boolean(true)
                    }
                }
                let reverse = !step.forward
                let est = plan.estimatedRows * pow(try averageDegree(r.types), Double(min(maxL, 3)))
                plan = LogicalPlan("VarLengthExpand(\(into ? "Into" : "All"))",
                                   details: "(\(fromName))\(arrowL)[\(relName)\(typeText)*\(minL)..\(maxL == Int.max ? "" : String(maxL))]\(arrowR)(\(toName))",
                                   identifiers: Array(bound), estimatedRows: est, source: plan) { ctx, src, _, c in
                    VarExpandOp(source: src!, fromSlot: fromSlot, relSlot: relSlot, toSlot: toSlot, direction: dir,
                                types: types, minLength: minL, maxLength: maxL, into: into, unique: u,
                                reverseOutput: reverse, relPredicate: relPredicate, predicateSlot: predSlot,
                                ctx: ctx, counter: c)
                }
                // Only the end nodes matter to a consumer that deduplicates them: see `PruningVarExpandOp` for
                // when breadth-first search finds exactly the end nodes of the relationship-unique paths.
                if dir != .both && minL <= 1 && !into && u.slots.isEmpty && !relAlreadyBound {
                    let pruneEst = min(est, max(1, plan.estimatedRows * pow(try averageDegree(r.types), 2)))
                    let variant = LogicalPlan(
                        "VarLengthExpand(Pruning)", details: plan.details, identifiers: plan.identifiers,
                        estimatedRows: pruneEst, source: plan.source
                    ) { ctx, src, _, c in
                        PruningVarExpandOp(source: src!, fromSlot: fromSlot, relSlot: relSlot, toSlot: toSlot,
                                           direction: dir, types: types, minLength: minL, maxLength: maxL,
                                           relPredicate: relPredicate, predicateSlot: predSlot, ctx: ctx, counter: c)
                    }
                    plan.pruning = (relName, variant)
                }
                unique.slots.append((relSlot, true))
            } else {
                let est = into ? plan.estimatedRows : plan.estimatedRows * (try averageDegree(r.types))
                plan = LogicalPlan("Expand(\(into ? "Into" : "All"))",
                                   details: "(\(fromName))\(arrowL)[\(relName)\(typeText)]\(arrowR)(\(toName))",
                                   identifiers: Array(bound), estimatedRows: est, source: plan) { ctx, src, _, c in
                    ExpandOp(source: src!, fromSlot: fromSlot, relSlot: relSlot, toSlot: toSlot, direction: dir,
                             types: types, into: into, unique: u, ctx: ctx, counter: c)
                }
                unique.slots.append((relSlot, false))
            }
            if let relCheck { pending.append(Pending(expr: relCheck, deps: [])) }
            plan = flush(&pending, plan, force: false)
        }
        if let pathName = p.part.variable {
            let pathEval = try pathBuilder(p)
            let slot = bindVariable(pathName)
            plan = LogicalPlan("Projection", details: "\(pathName)", identifiers: Array(bound),
                               estimatedRows: plan.estimatedRows, source: plan) { ctx, src, _, c in
                ProjectOp(source: src!, items: [(slot, pathEval)], ctx: ctx, counter: c)
            }
            plan = flush(&pending, plan, force: false)
        }
        return plan
    }

    /// Builds a path value from the node and relationship slots of a part (variable-length segments hold lists).
    func pathBuilder(_ p: NamedPart) throws -> Eval {
        let nodeSlots = p.nodes.map { slots.lookup($0)! }
        let relSlots = p.rels.map { slots.lookup($0)! }
        return { row, _ in
            guard case .node(let first) = row[nodeSlots[0]] else { return .null }
            var nodes = [first]
            var rels: [RelationshipValue] = []
            var cur = first.id
            for (i, rs) in relSlots.enumerated() {
                var segment: [RelationshipValue] = []
                switch row[rs] {
                case .relationship(let r): segment = [r]
                case .list(let l): for case .relationship(let r) in l { segment.append(r) }
                default: return .null
                }
                for r in segment {
                    cur = r.startNodeId == cur ? r.endNodeId : r.startNodeId
                    rels.append(r)
                    nodes.append(NodeValue(id: cur, labels: [], properties: [:]))
                }
                if case .node(let n) = row[nodeSlots[i + 1]] { nodes[nodes.count - 1] = n } else { return .null }
            }
            return .path(PathValue(nodes: nodes, relationships: rels))
        }
    }

    private func averageDegree(_ types: [String]) throws -> Double {
        let nodes = max(1, try tx.countNodes(label: nil))
        var rels = 0
        if types.isEmpty {
            rels = try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil)
        } else {
            for t in types {
                if let tok = try tx.relationshipTypeToken(t) {
                    rels += try tx.countRelationships(startLabel: nil, type: tok, endLabel: nil)
                }
            }
        }
        return max(1, Double(rels) / Double(nodes))
    }

    // MARK: - Leaf selection

    private enum SeekKind {
        case equals(Expression)
        case values(Expression)
        case prefix(Expression)
        case range(lower: (Expression, Bool)?, upper: (Expression, Bool)?)
    }

    /// Chooses the start node of an unbound part and plans its leaf (seek or scan) on `input`.
    private func chooseStart(_ p: NamedPart, on input: LogicalPlan, pending: inout [Pending]) throws
        -> (Int, LogicalPlan)
    {
        let inputBound = bound
        var best: (cost: Double, index: Int, make: () throws -> LogicalPlan)?
        func consider(_ cost: Double, _ index: Int, _ make: @escaping () throws -> LogicalPlan) {
            if best == nil || cost < best!.cost { best = (cost, index, make) }
        }
        let total = Double(try tx.countNodes(label: nil))
        for (i, name) in p.nodes.enumerated() {
            let node = p.part.element.nodes[i]
            // An all-nodes scan also has to check labels: on a tie with a label scan the label scan wins.
            consider(total * 1.1 + 1, i) { [unowned self] in
                let slot = self.bindVariable(name)
                return LogicalPlan("AllNodesScan", details: name, identifiers: Array(self.bound), estimatedRows: max(1, total) * max(1, input.estimatedRows),
                                   source: input) { ctx, src, _, c in
                    NodeSourceOp(source: src!, slot: slot, ctx: ctx, counter: c) { _, ctx in try ctx.tx.allNodes() }
                }
            }
            for label in node.labels {
                let tok = try tx.labelToken(label)
                let count = Double(try tok.map { try tx.countNodes(label: $0) } ?? 0)
                consider(count, i) { [unowned self] in
                    self.coveredLabel = (name, label)
                    let slot = self.bindVariable(name)
                    let scan = LogicalPlan("NodeByLabelScan", details: "\(name):\(label)", identifiers: Array(self.bound),
                                       estimatedRows: max(1, count) * max(1, input.estimatedRows), source: input) { ctx, src, _, c in
                        NodeSourceOp(source: src!, slot: slot, ctx: ctx, counter: c) { _, ctx in
                            guard let t = try ctx.label(label) else { return AnyIterator { nil } }
                            return try ctx.tx.nodes(withLabel: t)
                        }
                    }
                    scan.labelScan = (name, label, slot)
                    return scan
                }
                guard let tok else { continue }
                // Index seeks from predicates on this node's properties.
                for (pi, pred) in pending.enumerated() where !pred.done {
                    guard let e = pred.expr, let (key, kind) = seekable(e, variable: name, bound: inputBound) else {
                        continue
                    }
                    guard let keyTok = try tx.propertyKeyToken(key), let index = try tx.index(label: tok, propertyKey: keyTok),
                          case .online = index.state else { continue }
                    let cost: Double
                    switch kind {
                    case .equals: cost = index.isUnique ? 1 : max(1, count / 100)
                    case .values: cost = index.isUnique ? 5 : max(2, count / 50)
                    case .prefix: cost = max(3, count / 10)
                    case .range: cost = max(3, count / 3)
                    }
                    consider(cost, i) { [unowned self] in
                        self.coveredLabel = (name, label)
                        return try self.seekPlan(name: name, label: label, key: key, index: index, kind: kind,
                                          estimated: cost, on: input, drop: pi)
                    }
                }
            }
            // id(n) = expr
            for (pi, pred) in pending.enumerated() where !pred.done {
                guard let e = pred.expr, let idExpr = idSeekable(e, variable: name, bound: inputBound) else { continue }
                consider(0.5, i) { [unowned self] in
                    let values = try self.compile(idExpr.0)
                    let isList = idExpr.1
                    let slot = self.bindVariable(name)
                    self.dropPending = pi
                    return LogicalPlan("NodeByIdSeek", details: name, identifiers: Array(self.bound),
                                       estimatedRows: 1, source: input) { ctx, src, _, c in
                        NodeSourceOp(source: src!, slot: slot, ctx: ctx, counter: c) { row, ctx in
                            let v = try values(row, ctx)
                            let ids: [Value] = isList ? (try Self.listOrNull(v)).listItems : [v]
                            var out: [NodeID] = []
                            for case .integer(let i) in ids where try ctx.tx.nodeExists(NodeID(i)) {
                                out.append(NodeID(i))
                            }
                            return AnyIterator(out.makeIterator())
                        }
                    }
                }
            }
        }
        dropPending = nil
        coveredLabel = nil
        let chosen = best!
        let plan = try chosen.make()
        if let d = dropPending { pending[d].done = true }
        dropPending = nil
        if let (v, l) = coveredLabel {
            for i in pending.indices where !pending[i].done {
                if let e = pending[i].expr, case .hasLabels(let x, let ls) = e.kind, ls == [l],
                   case .variable(let name) = x.kind, name == v {
                    pending[i].done = true
                    break
                }
            }
        }
        coveredLabel = nil
        return (chosen.index, plan)
    }

    private var dropPendingStorage: Int?
    private var dropPending: Int? {
        get { dropPendingStorage }
        set { dropPendingStorage = newValue }
    }

    private func seekPlan(name: String, label: String, key: String, index: IndexDescriptor, kind: SeekKind,
                          estimated: Double, on input: LogicalPlan, drop: Int) throws -> LogicalPlan {
        let opName: String
        var iteratorMaker: ((Row, ExecutionContext) throws -> AnyIterator<NodeID>)?
        // An equality seek fills a buffer the operator reuses instead: one per input row is the common case
        // (`UNWIND $rows AS r MATCH (a:L {id: r.s})`), and then an iterator per row is most of its cost.
        var filler: ((Row, ExecutionContext, inout [NodeID]) throws -> Void)?
        switch kind {
        case .equals(let e):
            let v = try compile(e)
            opName = index.isUnique ? "NodeUniqueIndexSeek" : "NodeIndexSeek"
            filler = { row, ctx, out in
                let value = try v(row, ctx)
                if value.isNull {
                    out.removeAll(keepingCapacity: true)
                    return
                }
                try ctx.tx.indexSeek(index, equals: value, into: &out)
            }
            dropPending = drop
        case .values(let e):
            let v = try compile(e)
            opName = index.isUnique ? "NodeUniqueIndexSeek" : "NodeIndexSeek"
            iteratorMaker = { row, ctx in
                var seen = Set<NodeID>()
                var out: [NodeID] = []
                for value in try Self.listOrNull(v(row, ctx)).listItems where !value.isNull {
                    let it = try ctx.tx.indexSeek(index, equals: value)
                    while let n = it.next() { if seen.insert(n).inserted { out.append(n) } }
                }
                return AnyIterator(out.makeIterator())
            }
            dropPending = drop
        case .prefix(let e):
            let v = try compile(e)
            opName = "NodeIndexSeekByRange"
            iteratorMaker = { row, ctx in
                guard case .string(let s) = try v(row, ctx) else { return AnyIterator { nil } }
                return try ctx.tx.indexSeek(index, prefix: s)
            }
            // Keep the predicate: it also guards against non-string values.
        case .range(let lower, let upper):
            let lo = try lower.map { (try compile($0.0), $0.1) }
            let hi = try upper.map { (try compile($0.0), $0.1) }
            opName = "NodeIndexSeekByRange"
            iteratorMaker = { row, ctx in
                let l = try lo.map { RangeBound(try $0.0(row, ctx), inclusive: $0.1) }
                let h = try hi.map { RangeBound(try $0.0(row, ctx), inclusive: $0.1) }
                if l?.value.isNull == true || h?.value.isNull == true { return AnyIterator { nil } }
                return try ctx.tx.indexSeek(index, lower: l, upper: h)
            }
        }
        let slot = bindVariable(name)
        return LogicalPlan(opName, details: "\(name):\(label)(\(key))", identifiers: Array(bound),
                           estimatedRows: estimated * max(1, input.estimatedRows), source: input) { ctx, src, _, c in
            if let filler { return NodeBufferSourceOp(source: src!, slot: slot, ctx: ctx, counter: c, fill: filler) }
            return NodeSourceOp(source: src!, slot: slot, ctx: ctx, counter: c, makeIterator: iteratorMaker!)
        }
    }

    /// `n.key = e`, `n.key IN e`, `n.key STARTS WITH e`, `n.key < e` … with `e` computable from `bound`.
    private func seekable(_ e: Expression, variable: String, bound: Set<String>) -> (String, SeekKind)? {
        func prop(_ x: Expression) -> String? {
            if case .property(let t, let k) = x.kind, case .variable(let v) = t.kind, v == variable { return k }
            return nil
        }
        func ok(_ x: Expression) -> Bool {
            ExpressionAnalysis.freeVariables(x).isSubset(of: bound) && !ExpressionAnalysis.containsAggregate(x)
        }
        guard case .binary(let op, let a, let b) = e.kind else { return nil }
        switch op {
        case .equal:
            if let k = prop(a), ok(b) { return (k, .equals(b)) }
            if let k = prop(b), ok(a) { return (k, .equals(a)) }
        case .in:
            if let k = prop(a), ok(b) { return (k, .values(b)) }
        case .startsWith:
            if let k = prop(a), ok(b) { return (k, .prefix(b)) }
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual:
            let inclusive = op == .lessThanOrEqual || op == .greaterThanOrEqual
            let isLess = op == .lessThan || op == .lessThanOrEqual
            if let k = prop(a), ok(b) {
                return (k, isLess ? .range(lower: nil, upper: (b, inclusive)) : .range(lower: (b, inclusive), upper: nil))
            }
            if let k = prop(b), ok(a) {
                return (k, isLess ? .range(lower: (a, inclusive), upper: nil) : .range(lower: nil, upper: (a, inclusive)))
            }
        default: break
        }
        return nil
    }

    private func idSeekable(_ e: Expression, variable: String, bound: Set<String>) -> (Expression, Bool)? {
        func isId(_ x: Expression) -> Bool {
            if case .function(let f) = x.kind, f.lookupName == "id", f.arguments.count == 1,
               case .variable(let v) = f.arguments[0].kind, v == variable { return true }
            return false
        }
        func ok(_ x: Expression) -> Bool { ExpressionAnalysis.freeVariables(x).isSubset(of: bound) }
        guard case .binary(let op, let a, let b) = e.kind else { return nil }
        if op == .equal {
            if isId(a), ok(b) { return (b, false) }
            if isId(b), ok(a) { return (a, false) }
        }
        if op == .in, isId(a), ok(b) { return (b, true) }
        return nil
    }

    // MARK: - shortestPath

    private func planShortestPath(_ p: NamedPart, on input: LogicalPlan, pending: inout [Pending]) throws
        -> LogicalPlan
    {
        let element = p.part.element
        guard element.relationships.count == 1, let r = element.relationships.first else {
            throw DatabaseError(.syntaxError, "shortestPath(...) requires a pattern containing a single relationship")
        }
        var plan = input
        for (i, name) in p.nodes.enumerated() where !bound.contains(name) {
            let single = NamedPart(part: PatternPart(variable: nil, element: PatternElement(
                nodes: [element.nodes[i]], relationships: [], position: element.position), position: p.part.position),
                nodes: [name], rels: [])
            var u = UniquenessSlots()
            plan = try planPart(single, on: plan, pending: &pending, unique: &u)
        }
        let fromSlot = slots.lookup(p.nodes[0])!
        let toSlot = slots.lookup(p.nodes[1])!
        let pathName = p.part.variable ?? slots.fresh("path").0
        let pathSlot = bindVariable(pathName)
        let relSlot = r.variable.map { bindVariable($0) }
        var dir: Direction
        switch r.direction {
        case .outgoing: dir = .outgoing
        case .incoming: dir = .incoming
        case .both: dir = .both
        }
        let minL = Int(r.length?.minimum ?? 1)
        let maxL = r.length?.maximum.map { Int($0) } ?? (r.length == nil ? 1 : Int.max)
        let all = p.part.selector == .allShortestPaths
        let types = TypeFilter(names: r.types)
        plan = LogicalPlan("ShortestPath", details: pathName, identifiers: Array(bound),
                           estimatedRows: plan.estimatedRows, source: plan) { ctx, src, _, c in
            ShortestPathOp(source: src!, fromSlot: fromSlot, toSlot: toSlot, pathSlot: pathSlot, relSlot: relSlot,
                           direction: dir, types: types, minLength: minL, maxLength: maxL, all: all, ctx: ctx,
                           counter: c)
        }
        return flush(&pending, plan, force: false)
    }

    // MARK: - Sub-patterns (pattern expressions, comprehensions, EXISTS)

    struct SubPlan {
        let plan: LogicalPlan
        let width: Int
        let projection: Eval?
    }

    /// Plans a pattern evaluated per row; variables it introduces stay local to it.
    func planSubPattern(_ parts: [PatternPart], predicate: Expression?, thenCompile projection: Expression? = nil)
        throws -> SubPlan
    {
        let savedBound = bound
        let savedAgg = aggregateSlots
        aggregateSlots = [:]
        bound.formUnion(localVariables)
        defer {
            bound = savedBound
            aggregateSlots = savedAgg
        }
        let plan = try planPattern(parts, where: predicate, on: argumentPlan())
        let proj = try projection.map(compile)
        return SubPlan(plan: plan, width: slots.count, projection: proj)
    }

}

extension Value {
    var listItems: [Value] {
        if case .list(let l) = self { return l }
        return []
    }
}

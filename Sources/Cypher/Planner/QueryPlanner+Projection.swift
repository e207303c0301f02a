import Foundation
import GraphKernel
import GraphValues

extension QueryPlanner {
    // MARK: - WITH / RETURN

    /// Plans a projection; returns the plan, the column names and their slots.
    func planProjection(_ body: ProjectionBody, where whereClause: Expression?, on input: LogicalPlan,
                        isReturn: Bool) throws -> (LogicalPlan, [String], [Int]) {
        var items = body.items
        if body.includeExisting {
            let existing = bound.filter { !$0.hasPrefix(" ") }.sorted()
            items = existing.map { ReturnItem(expression: .variable($0), alias: nil, name: $0, position: .start) }
                + items
        }
        var plan = input
        if writes && (body.limit != nil || body.skip != nil || isReturn) {
            // Side effects happen in full whatever the consumer or a LIMIT pulls (Neo4j runs updates eagerly).
            plan = LogicalPlan("Eager", identifiers: Array(bound), estimatedRows: plan.estimatedRows, source: plan) {
                ctx, src, _, c in EagerOp(source: src!, limit: ctx.options.maxEagerRows, counter: c)
            }
        }
        let hasAggregate = items.contains { ExpressionAnalysis.containsAggregate($0.expression) }
        plan = prunedVarLength(plan, items: items, hasAggregate: hasAggregate, distinct: body.distinct)
        var itemSlots: [Int] = []
        let previousBound = bound
        plan = planPropertyCache(items.map(\.expression), on: plan)
        defer { cachedPropertyReads = [:] }

        if hasAggregate {
            var keys: [(Int, Eval)] = []
            var specs: [AggregateSpec] = []
            var aggKeySlots: [String: Int] = [:]
            var keyItemSlots: [String: Int] = [:]
            var postItems: [(Int, Expression)] = []
            var keyExpressions: [Expression] = []
            var argumentExpressions: [[Expression]] = []
            for item in items {
                let slot = slots.fresh("proj_\(item.name)").1
                itemSlots.append(slot)
                if ExpressionAnalysis.containsAggregate(item.expression) {
                    for agg in ExpressionAnalysis.aggregates(item.expression) {
                        let k = ExpressionAnalysis.key(agg)
                        if aggKeySlots[k] != nil { continue }
                        let aggSlot = (agg == item.expression) ? slot : slots.fresh("agg").1
                        aggKeySlots[k] = aggSlot
                        switch agg.kind {
                        case .countStar:
                            specs.append(AggregateSpec(name: "count", distinct: false, arguments: [], slot: aggSlot))
                            argumentExpressions.append([])
                        case .function(let f):
                            for a in f.arguments where ExpressionAnalysis.containsAggregate(a) {
                                throw DatabaseError(.syntaxError, "Can't use aggregate functions inside of aggregate "
                                                        + "functions. (\(a.position))")
                            }
                            if f.arguments.isEmpty {
                                throw DatabaseError(.syntaxError, "Insufficient parameters for function '\(f.name)'")
                            }
                            var argumentSlot: Int?
                            if f.arguments.count == 1, case .variable(let v) = f.arguments[0].kind, bound.contains(v) {
                                argumentSlot = slots.lookup(v)
                            }
                            specs.append(AggregateSpec(name: f.lookupName, distinct: f.distinct,
                                                       arguments: try f.arguments.map(compile), slot: aggSlot,
                                                       argumentSlot: argumentSlot))
                            argumentExpressions.append(f.arguments)
                        default: break
                        }
                    }
                    if aggKeySlots[ExpressionAnalysis.key(item.expression)] != slot {
                        postItems.append((slot, item.expression))
                    }
                } else {
                    keys.append((slot, try compile(item.expression)))
                    keyExpressions.append(item.expression)
                    keyItemSlots[ExpressionAnalysis.key(item.expression)] = slot
                }
            }
            cachedPropertyReads = [:]
            let width = { [slots] in slots.count }
            let keysCopy = keys
            let specsCopy = specs
            let fused = fusedLabelScan(under: plan, keys: keyExpressions, arguments: argumentExpressions)
            plan = LogicalPlan(keys.isEmpty ? "EagerAggregation" : "EagerAggregation",
                               details: items.map(\.name).joined(separator: ", "),
                               identifiers: items.map(\.name),
                               estimatedRows: keys.isEmpty ? 1 : max(1, plan.estimatedRows.squareRoot()),
                               source: plan) { ctx, src, _, c in
                AggregationOp(source: src!, keys: keysCopy, aggregates: specsCopy, width: width(), ctx: ctx,
                              counter: c, fused: fused)
            }
            // Expressions over aggregates (`count(*) + 1`) and over grouping keys read the aggregated row.
            bound = []
            for (i, item) in items.enumerated() { slots.rebind(item.name, itemSlots[i]); bound.insert(item.name) }
            aggregateSlots = aggKeySlots.merging(keyItemSlots) { a, _ in a }
            if !postItems.isEmpty {
                let compiled = try postItems.map { ($0.0, try compile($0.1)) }
                plan = LogicalPlan("Projection", identifiers: Array(bound), estimatedRows: plan.estimatedRows,
                                   source: plan) { ctx, src, _, c in
                    ProjectOp(source: src!, items: compiled, ctx: ctx, counter: c)
                }
            }
        } else {
            var compiled: [(Int, Eval)] = []
            for item in items {
                if case .variable(let v) = item.expression.kind, v == item.name, let s = slots.lookup(v), bound.contains(v) {
                    itemSlots.append(s)
                    continue
                }
                let slot = slots.fresh("proj_\(item.name)").1
                itemSlots.append(slot)
                compiled.append((slot, try compile(item.expression)))
            }
            cachedPropertyReads = [:]
            if !compiled.isEmpty {
                plan = LogicalPlan("Projection", details: items.map(\.name).joined(separator: ", "),
                                   identifiers: items.map(\.name), estimatedRows: plan.estimatedRows, source: plan) {
                    ctx, src, _, c in ProjectOp(source: src!, items: compiled, ctx: ctx, counter: c)
                }
            }
            // ORDER BY may still read the variables of before the projection (unless DISTINCT).
            if body.distinct { bound = [] }
            for (i, item) in items.enumerated() { slots.rebind(item.name, itemSlots[i]); bound.insert(item.name) }
            aggregateSlots = [:]
            for (i, item) in items.enumerated() { aggregateSlots[ExpressionAnalysis.key(item.expression)] = itemSlots[i] }
            if body.distinct {
                let ds = itemSlots
                plan = LogicalPlan("Distinct", identifiers: items.map(\.name), estimatedRows: plan.estimatedRows,
                                   source: plan) { _, src, _, c in DistinctOp(source: src!, slots: ds, counter: c) }
            }
        }
        if hasAggregate || body.distinct {
            // Only the projected names remain visible.
        }
        // ORDER BY, SKIP, LIMIT
        let limitEval = try body.limit.map { try compileCount($0, "LIMIT") }
        let skipEval = try body.skip.map { try compileCount($0, "SKIP") }
        if !body.orderBy.isEmpty {
            let keys = try body.orderBy.map { (try compile($0.expression), $0.ascending) }
            let topLimit: Eval? = skipEval == nil ? limitEval : nil
            plan = LogicalPlan(topLimit != nil ? "Top" : "Sort",
                               details: body.orderBy.map { "\($0.ascending ? "" : "DESC ")" }.joined(),
                               identifiers: items.map(\.name), estimatedRows: plan.estimatedRows, source: plan) {
                ctx, src, arg, c in
                let lim = try topLimit.map { try Self.count($0(arg, ctx), "LIMIT") }
                return SortOp(source: src!, keys: keys, limit: lim, ctx: ctx, counter: c)
            }
        }
        if let skipEval {
            plan = LogicalPlan("Skip", identifiers: items.map(\.name), estimatedRows: plan.estimatedRows, source: plan) {
                ctx, src, arg, c in SkipOp(source: src!, count: try Self.count(skipEval(arg, ctx), "SKIP"), counter: c)
            }
        }
        if let limitEval {
            let drain = writes
            plan = LogicalPlan("Limit", identifiers: items.map(\.name), estimatedRows: plan.estimatedRows, source: plan) {
                ctx, src, arg, c in
                LimitOp(source: src!, count: try Self.count(limitEval(arg, ctx), "LIMIT"), drainFirst: drain, counter: c)
            }
        }
        // WITH … WHERE sees the projected names and, without DISTINCT or aggregation, what was in scope before.
        if let whereClause {
            let pred = try compilePredicate(whereClause)
            plan = LogicalPlan("Filter", identifiers: Array(bound), estimatedRows: plan.estimatedRows * 0.5, source: plan) {
                ctx, src, _, c in FilterOp(source: src!, predicate: pred, ctx: ctx, counter: c)
            }
        }
        // Scope after the projection: exactly the projected names.
        for v in previousBound.union(bound) where !items.contains(where: { $0.name == v }) {
            if !v.hasPrefix(" ") { slots.forget(v) }
        }
        bound = Set(items.map(\.name))
        for (i, item) in items.enumerated() { slots.rebind(item.name, itemSlots[i]) }
        aggregateSlots = [:]
        _ = isReturn
        return (plan, items.map(\.name), itemSlots)
    }

    /// `VarLengthExpand(Pruning)` in place of a `VarLengthExpand(All)` directly below a projection that cannot tell
    /// how many paths lead to an end node: it reads neither the relationship list nor the path, and it either
    /// aggregates with DISTINCT aggregates, min and max only, or is a DISTINCT projection without aggregates
    /// (`count(DISTINCT x)`, `RETURN DISTINCT x`). Otherwise `plan` itself.
    private func prunedVarLength(_ plan: LogicalPlan, items: [ReturnItem], hasAggregate: Bool, distinct: Bool)
        -> LogicalPlan
    {
        guard let pruning = plan.pruning else { return plan }
        for item in items where ExpressionAnalysis.freeVariables(item.expression).contains(pruning.relVariable) {
            return plan
        }
        // A value that differs from row to row (`count(DISTINCT rand())`) would see the dropped rows; so might a
        // subquery-like expression: keep those on the enumerating expansion.
        func rowDependent(_ e: Expression) -> Bool {
            switch e.kind {
            case .patternExpression, .patternComprehension, .existsSubquery, .shortestPathExpression: return true
            case .function(let f) where f.lookupName == "rand" || f.lookupName == "randomuuid": return true
            default: return ExpressionAnalysis.children(e).contains(where: rowDependent)
            }
        }
        if items.contains(where: { rowDependent($0.expression) }) { return plan }
        if hasAggregate {
            for aggregate in items.flatMap({ ExpressionAnalysis.aggregates($0.expression) }) {
                guard case .function(let f) = aggregate.kind,
                      f.distinct || f.lookupName == "min" || f.lookupName == "max" else { return plan }
            }
        } else if !distinct {
            return plan
        }
        return pruning.variant
    }

    /// The fused form of an aggregation directly over a label scan of the whole label (optionally through
    /// CacheProperties) whose grouping keys and aggregate arguments are all properties of the scanned node.
    private func fusedLabelScan(under plan: LogicalPlan, keys: [Expression], arguments: [[Expression]])
        -> FusedLabelScan?
    {
        let scan = plan.name == "CacheProperties" ? plan.source : plan
        guard let scan, let (variable, label, _) = scan.labelScan, scan.source?.name == "Argument",
              scan.source?.source == nil else { return nil }
        var propertyKeys: [String] = []
        func index(_ e: Expression) -> Int? {
            guard case .property(let t, let k) = e.kind, case .variable(let v) = t.kind, v == variable else {
                return nil
            }
            if let i = propertyKeys.firstIndex(of: k) { return i }
            propertyKeys.append(k)
            return propertyKeys.count - 1
        }
        var keyIndexes: [Int] = []
        for e in keys {
            guard let i = index(e) else { return nil }
            keyIndexes.append(i)
        }
        var argumentIndexes: [Int?] = []
        for args in arguments {
            if args.isEmpty {
                argumentIndexes.append(nil)
            } else {
                guard args.count == 1, let i = index(args[0]) else { return nil }
                argumentIndexes.append(i)
            }
        }
        return FusedLabelScan(label: label, keys: propertyKeys, keyIndexes: keyIndexes,
                              argumentIndexes: argumentIndexes, scanPlan: scan,
                              cachePlan: scan === plan ? nil : plan)
    }

    /// Plans a CacheProperties operator for each variable whose properties the projection reads two or more of,
    /// and records them in `cachedPropertyReads` for compiling the projection's items (the caller clears it).
    private func planPropertyCache(_ expressions: [Expression], on input: LogicalPlan) -> LogicalPlan {
        var keysByVariable: [String: [String]] = [:]
        var variables: [String] = []
        for e in expressions {
            for (v, k) in ExpressionAnalysis.directPropertyReads(e) where bound.contains(v) && slots.lookup(v) != nil {
                if keysByVariable[v] == nil {
                    variables.append(v)
                    keysByVariable[v] = []
                }
                if !keysByVariable[v]!.contains(k) { keysByVariable[v]!.append(k) }
            }
        }
        var plan = input
        for v in variables {
            let keys = keysByVariable[v]!
            guard keys.count >= 2 else { continue }
            let group = propertyCacheGroups
            propertyCacheGroups += 1
            let slot = slots.lookup(v)!
            var reads: [String: (Int, Int)] = [:]
            for (i, k) in keys.enumerated() { reads[k] = (group, i) }
            cachedPropertyReads[v] = reads
            plan = LogicalPlan("CacheProperties", details: keys.map { "\(v).\($0)" }.joined(separator: ", "),
                               identifiers: Array(bound), estimatedRows: plan.estimatedRows, source: plan) {
                ctx, src, _, c in
                CachePropertiesOp(source: src!, nodeSlot: slot, keys: keys,
                                  cache: ctx.propertyCache(group, keys: keys.count), ctx: ctx, counter: c)
            }
        }
        return plan
    }

    private func compileCount(_ e: Expression, _ what: String) throws -> Eval {
        if !ExpressionAnalysis.freeVariables(e).isEmpty {
            throw DatabaseError(.syntaxError, "It is not allowed to refer to variables in \(what) (\(e.position))")
        }
        var literal: Value?
        if case .literal(let v) = e.kind { literal = v }
        if case .unary(.negate, let x) = e.kind, case .literal(let v) = x.kind { literal = try? Semantics.negate(v) }
        if let v = literal {
            // A literal is checked at compile time, as Neo4j does (a parameter only at run time).
            do { _ = try Self.count(v, what) } catch let err as DatabaseError {
                throw DatabaseError(.syntaxError, err.message + " (\(e.position))")
            }
        }
        let saved = bound
        bound = []
        defer { bound = saved }
        return try compile(e)
    }

    static func count(_ v: Value, _ what: String) throws -> Int64 {
        switch v {
        case .integer(let i) where i >= 0: return i
        case .float(let d) where d >= 0 && d == d.rounded():
            return Int64(d)
        default:
            // Neo4j reports invalid SKIP/LIMIT values as SyntaxError even when they arrive as parameters.
            throw DatabaseError(.syntaxError, "Invalid input. '\(CypherText.literal(v))' is not a valid value. "
                                    + "Must be a non-negative integer.")
        }
    }

    // MARK: - CREATE

    /// The per-row action creating the parts of a pattern (reusing bound nodes). For MERGE, a null property value
    /// fails the statement (Neo4j: a pattern with a null property can never match, and creating it would make
    /// the next MERGE create it again).
    func planCreatePattern(_ parts: [PatternPart], forMerge: Bool = false) throws
        -> (inout Row, ExecutionContext) throws -> Void
    {
        var steps: [(inout Row, ExecutionContext) throws -> Void] = []
        let named = nameParts(parts)
        for p in named {
            let element = p.part.element
            for (i, n) in element.nodes.enumerated() {
                let name = p.nodes[i]
                if bound.contains(name) {
                    if !n.labels.isEmpty || n.properties != nil {
                        throw DatabaseError(.syntaxError, "Can't create node `\(name)` with labels or properties here. "
                                                + "The variable is already declared in this context")
                    }
                    continue
                }
                let labels = n.labels
                if !forMerge, let compiled = try compileCreateProperties(n.properties) {
                    let slot = slots.fresh("v_\(name)").1
                    slots.rebind(name, slot)
                    bound.insert(name)
                    let create = CreateNodeStep(labels: labels, properties: compiled)
                    steps.append { row, ctx in row[slot] = try create.run(row, ctx) }
                    continue
                }
                let props = try n.properties.map(compile)
                let slot = slots.fresh("v_\(name)").1
                slots.rebind(name, slot)
                bound.insert(name)
                steps.append { row, ctx in
                    let m = try props.map { try Writes.propertyMap($0(row, ctx), ctx) } ?? [:]
                    if forMerge { try Writes.checkMergeProperties(m, of: "node") }
                    row[slot] = try Writes.createNode(labels: labels, properties: m, ctx)
                }
            }
            for (i, r) in element.relationships.enumerated() {
                let name = p.rels[i]
                if bound.contains(name) {
                    throw DatabaseError(.syntaxError, "Can't create relationship `\(name)`: the variable is already "
                                            + "declared in this context")
                }
                guard r.types.count == 1 else {
                    throw DatabaseError(.syntaxError, "A single relationship type must be specified for CREATE "
                                            + "(\(r.position))")
                }
                if r.length != nil {
                    throw DatabaseError(.syntaxError, "Variable length relationships cannot be used in CREATE "
                                            + "(\(r.position))")
                }
                let (startName, endName): (String, String)
                switch r.direction {
                case .outgoing: (startName, endName) = (p.nodes[i], p.nodes[i + 1])
                case .incoming: (startName, endName) = (p.nodes[i + 1], p.nodes[i])
                case .both:
                    throw DatabaseError(.syntaxError, "Only directed relationships are supported in CREATE "
                                            + "(\(r.position))")
                }
                let a = slots.lookup(startName)!
                let b = slots.lookup(endName)!
                let type = r.types[0]
                if !forMerge, let compiled = try compileCreateProperties(r.properties) {
                    let slot = slots.fresh("v_\(name)").1
                    slots.rebind(name, slot)
                    bound.insert(name)
                    let create = CreateRelationshipStep(type: type, properties: compiled)
                    steps.append { row, ctx in row[slot] = try create.run(from: row[a], to: row[b], row, ctx) }
                    continue
                }
                let props = try r.properties.map(compile)
                let slot = slots.fresh("v_\(name)").1
                slots.rebind(name, slot)
                bound.insert(name)
                steps.append { row, ctx in
                    let m = try props.map { try Writes.propertyMap($0(row, ctx), ctx) } ?? [:]
                    if forMerge { try Writes.checkMergeProperties(m, of: "relationship") }
                    row[slot] = try Writes.createRelationship(from: row[a], to: row[b], type: type, properties: m, ctx)
                }
            }
            if let pathName = p.part.variable {
                let pathEval = try pathBuilder(p)
                let slot = slots.fresh("v_\(pathName)").1
                slots.rebind(pathName, slot)
                bound.insert(pathName)
                steps.append { row, ctx in row[slot] = try pathEval(row, ctx) }
            }
        }
        return { row, ctx in for s in steps { try s(&row, ctx) } }
    }

    /// A CREATE pattern's properties as one compiled expression per key, when they are written as a map literal
    /// with distinct keys (`CREATE (:L {k: expr, …})`, the shape of every batched import): each row then evaluates
    /// straight into the property list, with no `[String: Value]` built and hashed per row. Nil for anything else
    /// (a parameter map, repeated keys), which keeps the general path.
    func compileCreateProperties(_ properties: Expression?) throws -> CreatePropertySlots? {
        guard let properties else { return CreatePropertySlots(keys: [], values: []) }
        guard case .map(let entries) = properties.kind, Set(entries.map(\.key)).count == entries.count else {
            return nil
        }
        return CreatePropertySlots(keys: entries.map(\.key), values: try entries.map { try compile($0.value) })
    }

    // MARK: - MERGE

    func planMerge(_ m: MergeClause, on input: LogicalPlan) throws -> LogicalPlan {
        writes = true
        reads = true
        var p = input
        // MERGE reads what earlier clauses wrote and writes what later ones read: isolate it.
        p = LogicalPlan("Eager", identifiers: Array(bound), estimatedRows: p.estimatedRows, source: p) {
            ctx, src, _, c in EagerOp(source: src!, limit: ctx.options.maxEagerRows, counter: c)
        }
        let before = bound
        let matchPlan = try planPattern([m.pattern], where: nil, on: argumentPlan())
        var matchSlots: [String: Int] = [:]
        for v in bound.subtracting(before) where !v.hasPrefix(" ") { matchSlots[v] = slots.lookup(v) }
        bound = before
        let create = try planCreatePattern([m.pattern], forMerge: true)
        var onMatch: [(inout Row, ExecutionContext) throws -> Void] = []
        var onCreate: [(inout Row, ExecutionContext) throws -> Void] = []
        // The create action allocated its own slots for the pattern's variables; matched rows are copied into
        // them so later clauses read one slot per variable.
        var copies: [(Int, Int)] = []
        for (v, matchSlot) in matchSlots {
            if let createSlot = slots.lookup(v), createSlot != matchSlot { copies.append((matchSlot, createSlot)) }
        }
        for a in m.actions {
            let act = try planSetItems(a.items)
            if a.trigger == .onMatch { onMatch.append(act) } else { onCreate.append(act) }
        }
        let copiesFinal = copies
        return LogicalPlan("Merge", details: "MERGE", identifiers: Array(bound), estimatedRows: p.estimatedRows,
                           source: p, inner: [matchPlan]) { ctx, src, _, c in
            MergeOp(source: src!, match: matchPlan, ctx: ctx, counter: c, create: create,
                    onMatch: { row, ctx in
                        for (f, t) in copiesFinal { row[t] = row[f] }
                        for a in onMatch { try a(&row, ctx) }
                    },
                    onCreate: { row, ctx in for a in onCreate { try a(&row, ctx) } })
        }
    }

    // MARK: - SET

    func planSetItems(_ items: [SetItem]) throws -> (inout Row, ExecutionContext) throws -> Void {
        var actions: [(inout Row, ExecutionContext) throws -> Void] = []
        for item in items {
            switch item {
            case .property(let entity, let key, let value, _):
                let e = try compile(entity)
                let v = try compile(value)
                actions.append { row, ctx in
                    let target = try e(row, ctx)
                    if case .map = target {
                        throw DatabaseError(.typeError, "Type mismatch: expected Node or Relationship but was Map")
                    }
                    try Writes.setProperty(target, key, try v(row, ctx), ctx)
                }
            case .replaceProperties(let variable, let value, let pos):
                let e = try compile(Expression(.variable(variable), at: pos))
                let v = try compile(value)
                actions.append { row, ctx in
                    let m = try Writes.propertyMap(try v(row, ctx), ctx)
                    try Writes.setAll(try e(row, ctx), m, replace: true, ctx)
                }
            case .mergeProperties(let variable, let value, let pos):
                let e = try compile(Expression(.variable(variable), at: pos))
                let v = try compile(value)
                actions.append { row, ctx in
                    let m = try Writes.propertyMap(try v(row, ctx), ctx)
                    try Writes.setAll(try e(row, ctx), m, replace: false, ctx)
                }
            case .labels(let variable, let labels, let pos):
                let e = try compile(Expression(.variable(variable), at: pos))
                actions.append { row, ctx in try Writes.setLabels(try e(row, ctx), labels, add: true, ctx) }
            }
        }
        return { row, ctx in for a in actions { try a(&row, ctx) } }
    }

    // MARK: - CALL

    func planProcedureCall(_ call: ProcedureCall, on input: LogicalPlan, standalone: Bool) throws
        -> (LogicalPlan, [String], [Int])
    {
        guard let proc = registry.lookup(call.qualifiedName) else {
            throw DatabaseError(.procedureNotFound, "There is no procedure with the name `\(call.qualifiedName)` "
                                    + "registered for this database instance. Please ensure you've spelled the "
                                    + "procedure name correctly and that the procedure is properly deployed.")
        }
        if proc.mode == .write { writes = true } else { reads = true }
        let args: [Eval]
        if let a = call.arguments {
            args = try a.map(compile)
        } else {
            args = proc.parameters.map { p in
                let name = p.name
                let dflt = p.defaultValue
                parameterNames.insert(name)
                return { _, ctx in
                    if let v = ctx.parameters[name] { return v }
                    if let dflt { return dflt }
                    throw DatabaseError(.parameterMissing, "Expected parameter(s): \(name)")
                }
            }
        }
        var yields: [(column: Int, slot: Int)] = []
        var columns: [String] = []
        var colSlots: [Int] = []
        let outputNames = proc.outputs.map(\.name)
        if let items = call.yieldItems {
            for y in items {
                guard let ci = outputNames.firstIndex(of: y.name) else {
                    throw DatabaseError(.syntaxError, "Unknown procedure output: `\(y.name)` (\(y.position))")
                }
                let slot = slots.fresh("yield_\(y.variable)").1
                yields.append((ci, slot))
                columns.append(y.variable)
                colSlots.append(slot)
            }
        } else if standalone || call.yieldAll {
            for (ci, name) in outputNames.enumerated() {
                let slot = slots.fresh("yield_\(name)").1
                yields.append((ci, slot))
                columns.append(name)
                colSlots.append(slot)
            }
        } else if !proc.outputs.isEmpty {
            throw DatabaseError(.syntaxError, "Procedure call inside a query does not support naming results "
                                    + "implicitly (name explicitly using `YIELD` instead)")
        }
        for (i, c) in columns.enumerated() {
            slots.rebind(c, colSlots[i])
            bound.insert(c)
        }
        let y = yields
        var plan = LogicalPlan("ProcedureCall", details: proc.name, identifiers: columns,
                               estimatedRows: input.estimatedRows * 10, source: input) { ctx, src, _, c in
            ProcedureCallOp(source: src!, procedure: proc, arguments: args, yields: y, ctx: ctx, counter: c)
        }
        if let w = call.whereClause {
            let pred = try compile(w)
            plan = LogicalPlan("Filter", identifiers: Array(bound), estimatedRows: plan.estimatedRows * 0.5,
                               source: plan) { ctx, src, _, c in
                FilterOp(source: src!, predicate: pred, ctx: ctx, counter: c)
            }
        }
        return (plan, columns, colSlots)
    }
}

import Foundation
import GraphKernel
import GraphValues

/// Variable name → slot number for one query; rows are arrays of `count` values.
final class SlotTable: @unchecked Sendable {
    private(set) var map: [String: Int] = [:]
    private(set) var count = 0
    private var anonymous = 0

    /// The slot of `name`, allocating one if needed.
    func slot(_ name: String) -> Int {
        if let s = map[name] { return s }
        let s = count
        count += 1
        map[name] = s
        return s
    }

    /// A fresh slot under a generated name (names starting with a space never clash with user variables).
    func fresh(_ hint: String) -> (String, Int) {
        anonymous += 1
        let name = "  \(hint)\(anonymous)"
        return (name, slot(name))
    }

    /// Forgets `name` so a later variable of the same name gets a new slot (after WITH drops it from scope).
    func forget(_ name: String) { map[name] = nil }

    /// Points `name` at an existing slot (projections, comprehension variables).
    func rebind(_ name: String, _ slot: Int) { map[name] = slot }

    func lookup(_ name: String) -> Int? { map[name] }
}

/// Compiles AST expressions into closures over slot rows.
extension QueryPlanner {
    func compile(_ e: Expression) throws -> Eval {
        if !aggregateSlots.isEmpty, let s = aggregateSlots[ExpressionAnalysis.key(e)] {
            return { row, _ in row[s] }
        }
        switch e.kind {
        case .literal(let v):
            return { _, _ in v }
        case .parameter(let name):
            parameterNames.insert(name)
            return { _, ctx in
                guard let v = ctx.parameters[name] else {
                    throw DatabaseError(.parameterMissing, "Expected parameter(s): \(name)")
                }
                return v
            }
        case .variable(let name):
            guard let s = slots.lookup(name), bound.contains(name) || localVariables.contains(name) else {
                throw DatabaseError(.semanticError, "Variable `\(name)` not defined (\(e.position))")
            }
            return { row, _ in row[s] }
        case .property(let target, let key):
            let t = try compile(target)
            let site = propertySites
            propertySites += 1
            if case .variable(let v) = target.kind, let (group, index) = cachedPropertyReads[v]?[key] {
                // Served from the CacheProperties memo below this projection when it holds this row's node.
                return { row, ctx in
                    if let value = ctx.cachedProperty(group, index) { return value }
                    return try ctx.property(t(row, ctx), key, site: site)
                }
            }
            return { row, ctx in try ctx.property(t(row, ctx), key, site: site) }
        case .list(let items):
            let cs = try items.map(compile)
            if cs.isEmpty { return { _, _ in .list([]) } }
            return { row, ctx in .list(try cs.map { try $0(row, ctx) }) }
        case .map(let entries):
            let cs = try entries.map { ($0.key, try compile($0.value)) }
            return { row, ctx in
                var m: [String: Value] = [:]
                for (k, c) in cs { m[k] = try c(row, ctx) }
                return .map(m)
            }
        case .index(let target, let index):
            let t = try compile(target)
            let i = try compile(index)
            return { row, ctx in try Self.subscriptValue(t(row, ctx), i(row, ctx), ctx) }
        case .slice(let target, let from, let to):
            let t = try compile(target)
            let f = try from.map(compile)
            let u = try to.map(compile)
            return { row, ctx in
                try Self.sliceValue(t(row, ctx), f.map { try $0(row, ctx) }, u.map { try $0(row, ctx) })
            }
        case .unary(let op, let x):
            let c = op == .not ? try compilePredicate(x) : try compile(x)
            switch op {
            case .not:
                return { row, ctx in
                    guard let b = try Semantics.truth(c(row, ctx)) else { return .null }
                    return .boolean(!b)
                }
            case .negate: return { row, ctx in try Semantics.negate(c(row, ctx)) }
            case .plus:
                return { row, ctx in
                    let v = try c(row, ctx)
                    switch v {
                    case .integer, .float, .null: return v
                    default: throw DatabaseError(.typeError, "Cannot apply unary plus to `\(Semantics.typeName(v))`")
                    }
                }
            }
        case .binary(let op, let a, let b):
            return try compileBinary(op, a, b)
        case .isNull(let x):
            let c = try compile(x)
            return { row, ctx in .boolean(try c(row, ctx).isNull) }
        case .isNotNull(let x):
            let c = try compile(x)
            return { row, ctx in .boolean(!(try c(row, ctx).isNull)) }
        case .hasLabels(let x, let labels):
            let c = try compile(x)
            return { row, ctx in
                switch try c(row, ctx) {
                case .null: return .null
                case .node(let n):
                    for l in labels {
                        guard let t = try ctx.label(l), try ctx.tx.hasLabel(NodeID(n.id), t) else {
                            return .boolean(false)
                        }
                    }
                    return .boolean(true)
                case .relationship(let r): return .boolean(labels.contains(r.type))
                case let v: throw DatabaseError(.typeError, "Expected a node but got \(Semantics.typeName(v))")
                }
            }
        case .countStar:
            throw DatabaseError(.syntaxError, "Invalid use of aggregating function count(...) in this context "
                                    + "(\(e.position))")
        case .function(let f):
            return try compileFunction(f, e)
        case .caseExpression(let subject, let alternatives, let defaultValue):
            let s = try subject.map(compile)
            let alts = try alternatives.map { (try compile($0.when), try compile($0.then)) }
            let d = try defaultValue.map(compile)
            return { row, ctx in
                if let s {
                    let v = try s(row, ctx)
                    for (w, t) in alts where Semantics.equals(v, try w(row, ctx)) == true { return try t(row, ctx) }
                } else {
                    for (w, t) in alts {
                        let cond = try w(row, ctx)
                        if case .boolean(true) = cond { return try t(row, ctx) }
                    }
                }
                return try d?(row, ctx) ?? .null
            }
        case .listComprehension(let variable, let source, let predicate, let projection):
            let src = try compile(source)
            let (slot, restore) = bindLocal(variable)
            defer { restore() }
            let p = try predicate.map(compile)
            let proj = try projection.map(compile)
            return { row, ctx in
                guard case .list(let items) = try Self.listOrNull(src(row, ctx)) else { return .null }
                var r = row
                var out: [Value] = []
                for item in items {
                    try ctx.tick()
                    r[slot] = item
                    if let p, try Semantics.truth(p(r, ctx)) != true { continue }
                    out.append(try proj?(r, ctx) ?? item)
                }
                return .list(out)
            }
        case .quantified(let q, let variable, let source, let predicate):
            let src = try compile(source)
            let (slot, restore) = bindLocal(variable)
            defer { restore() }
            let p = try predicate.map(compile) ?? { _, _ in .boolean(true) }
            return { row, ctx in
                guard case .list(let items) = try Self.listOrNull(src(row, ctx)) else { return .null }
                var r = row
                var trues = 0
                var nulls = 0
                for item in items {
                    try ctx.tick()
                    r[slot] = item
                    switch try Semantics.truth(p(r, ctx)) {
                    case .some(true):
                        trues += 1
                        if q == .any { return .boolean(true) }
                        if q == .none { return .boolean(false) }
                        if q == .single && trues > 1 { return .boolean(false) }
                    case .some(false):
                        if q == .all { return .boolean(false) }
                    case nil: nulls += 1
                    }
                }
                switch q {
                case .all: return nulls > 0 ? .null : .boolean(true)
                case .any: return nulls > 0 ? .null : .boolean(false)
                case .none: return nulls > 0 ? .null : .boolean(true)
                case .single: return nulls > 0 ? .null : .boolean(trues == 1)
                }
            }
        case .reduce(let acc, let initial, let variable, let source, let body):
            let i = try compile(initial)
            let src = try compile(source)
            let (accSlot, r1) = bindLocal(acc)
            let (slot, r2) = bindLocal(variable)
            defer { r2(); r1() }
            let b = try compile(body)
            return { row, ctx in
                guard case .list(let items) = try Self.listOrNull(src(row, ctx)) else { return .null }
                var r = row
                r[accSlot] = try i(row, ctx)
                for item in items {
                    try ctx.tick()
                    r[slot] = item
                    r[accSlot] = try b(r, ctx)
                }
                return r[accSlot]
            }
        case .mapProjection(let variable, let items):
            let base = try compile(Expression(.variable(variable), at: e.position))
            let compiled: [(MapProjectionItem, Eval?)] = try items.map { item in
                switch item {
                case .literal(_, let x): return (item, try compile(x))
                case .variable(let n): return (item, try compile(Expression(.variable(n), at: e.position)))
                default: return (item, nil)
                }
            }
            return { row, ctx in
                let v = try base(row, ctx)
                if v.isNull { return .null }
                var m: [String: Value] = [:]
                for (item, c) in compiled {
                    switch item {
                    case .property(let k): m[k] = try ctx.property(v, k)
                    case .allProperties: for (k, x) in try ctx.properties(v) { m[k] = x }
                    case .literal(let k, _): m[k] = try c!(row, ctx)
                    case .variable(let n): m[n] = try c!(row, ctx)
                    }
                }
                return .map(m)
            }
        case .patternExpression(let element):
            let pathName = slots.fresh("pattern_path").0
            let plan = try planSubPattern([PatternPart(variable: pathName, element: element, position: e.position)],
                                          predicate: nil)
            let pathSlot = slots.lookup(pathName)!
            return { row, ctx in
                let op = try plan.plan.instantiate(ctx, argument: Self.widen(row, plan.width))
                var paths: [Value] = []
                while let r = try op.next() { paths.append(r[pathSlot]) }
                return .list(paths)
            }
        case .patternComprehension(let pathVariable, let element, let predicate, let projection):
            let part = PatternPart(variable: pathVariable, element: element, position: e.position)
            let plan = try planSubPattern([part], predicate: predicate, thenCompile: projection)
            let proj = plan.projection!
            return { row, ctx in
                let op = try plan.plan.instantiate(ctx, argument: Self.widen(row, plan.width))
                var out: [Value] = []
                while let r = try op.next() { out.append(try proj(r, ctx)) }
                return .list(out)
            }
        case .existsSubquery(let pattern, let predicate):
            let plan = try planSubPattern(pattern.parts, predicate: predicate)
            return { row, ctx in
                let op = try plan.plan.instantiate(ctx, argument: Self.widen(row, plan.width))
                return .boolean(try op.next() != nil)
            }
        case .shortestPathExpression(let part):
            var named = part
            let pathName = slots.fresh("path").0
            named.variable = pathName
            let plan = try planSubPattern([named], predicate: nil)
            let pathSlot = slots.lookup(pathName)!
            let all = part.selector == .allShortestPaths
            return { row, ctx in
                let op = try plan.plan.instantiate(ctx, argument: Self.widen(row, plan.width))
                if all {
                    var out: [Value] = []
                    while let r = try op.next() { out.append(r[pathSlot]) }
                    return .list(out)
                }
                return try op.next()?[pathSlot] ?? .null
            }
        }
    }

    /// Rows given to sub-plans must be as wide as the slot table when the sub-plan ran (slots only grow).
    @inline(__always)
    static func widen(_ row: Row, _ width: Int) -> Row {
        if row.count >= width { return row }
        var r = row
        r.append(contentsOf: repeatElement(.null, count: width - row.count))
        return r
    }

    /// Makes `name` visible to expressions compiled until the returned closure runs.
    func bindLocal(_ name: String) -> (Int, () -> Void) {
        let slot = slots.fresh("local_\(name)").1
        let previous = slots.lookup(name)
        let wasLocal = localVariables.contains(name)
        slots.rebind(name, slot)
        localVariables.insert(name)
        return (slot, { [self] in
            if let previous { slots.rebind(name, previous) } else { slots.forget(name) }
            if !wasLocal { localVariables.remove(name) }
        })
    }

    static func listOrNull(_ v: Value) throws -> Value {
        switch v {
        case .list, .null: return v
        default: throw DatabaseError(.typeError, "Expected a list but got \(Semantics.typeName(v))")
        }
    }

    /// Compiles an expression used as a predicate: a pattern expression there means "a match exists".
    func compilePredicate(_ e: Expression) throws -> Eval {
        if case .patternExpression = e.kind {
            let list = try compile(e)
            return { row, ctx in
                if case .list(let l) = try list(row, ctx) { return .boolean(!l.isEmpty) }
                return .boolean(false)
            }
        }
        return try compile(e)
    }

    private func compileBinary(_ op: BinaryOperator, _ a: Expression, _ b: Expression) throws -> Eval {
        let logical = op == .and || op == .or || op == .xor
        let x = logical ? try compilePredicate(a) : try compile(a)
        let y = logical ? try compilePredicate(b) : try compile(b)
        switch op {
        case .and:
            return { row, ctx in
                let l = try Semantics.truth(x(row, ctx))
                if l == false { return .boolean(false) }
                let r = try Semantics.truth(y(row, ctx))
                if r == false { return .boolean(false) }
                if l == nil || r == nil { return .null }
                return .boolean(true)
            }
        case .or:
            return { row, ctx in
                let l = try Semantics.truth(x(row, ctx))
                if l == true { return .boolean(true) }
                let r = try Semantics.truth(y(row, ctx))
                if r == true { return .boolean(true) }
                if l == nil || r == nil { return .null }
                return .boolean(false)
            }
        case .xor:
            return { row, ctx in
                guard let l = try Semantics.truth(x(row, ctx)), let r = try Semantics.truth(y(row, ctx)) else {
                    return .null
                }
                return .boolean(l != r)
            }
        case .equal:
            return { row, ctx in Semantics.equals(try x(row, ctx), try y(row, ctx)).map(Value.boolean) ?? .null }
        case .notEqual:
            return { row, ctx in Semantics.equals(try x(row, ctx), try y(row, ctx)).map { .boolean(!$0) } ?? .null }
        case .lessThan:
            return { row, ctx in Semantics.compare(try x(row, ctx), try y(row, ctx)).map { .boolean($0 < 0) } ?? .null }
        case .greaterThan:
            return { row, ctx in Semantics.compare(try x(row, ctx), try y(row, ctx)).map { .boolean($0 > 0) } ?? .null }
        case .lessThanOrEqual:
            return { row, ctx in Semantics.compare(try x(row, ctx), try y(row, ctx)).map { .boolean($0 <= 0) } ?? .null }
        case .greaterThanOrEqual:
            return { row, ctx in Semantics.compare(try x(row, ctx), try y(row, ctx)).map { .boolean($0 >= 0) } ?? .null }
        case .startsWith, .endsWith, .contains:
            return { row, ctx in
                guard case .string(let s) = try x(row, ctx), case .string(let t) = try y(row, ctx) else { return .null }
                switch op {
                case .startsWith: return .boolean(s.hasPrefix(t))
                case .endsWith: return .boolean(s.hasSuffix(t))
                default: return .boolean(t.isEmpty || s.contains(t))
                }
            }
        case .in:
            return { row, ctx in
                let v = try x(row, ctx)
                switch try y(row, ctx) {
                case .null: return .null
                case .list(let items):
                    var sawNull = false
                    for i in items {
                        switch Semantics.equals(v, i) {
                        case .some(true): return .boolean(true)
                        case nil: sawNull = true
                        default: break
                        }
                    }
                    return sawNull ? .null : .boolean(false)
                case let other:
                    throw DatabaseError(.typeError, "Type mismatch: expected List<T> but was \(Semantics.typeName(other))")
                }
            }
        case .regexMatch:
            let cache = RegexCache()
            return { row, ctx in
                guard case .string(let s) = try x(row, ctx), case .string(let p) = try y(row, ctx) else { return .null }
                let re = try cache.regex(p)
                let range = NSRange(s.startIndex..<s.endIndex, in: s)
                guard let m = re.firstMatch(in: s, options: [.anchored], range: range) else { return .boolean(false) }
                return .boolean(m.range.location == 0 && m.range.length == range.length)
            }
        case .add: return { row, ctx in try Semantics.add(x(row, ctx), y(row, ctx)) }
        case .subtract: return { row, ctx in try Semantics.subtract(x(row, ctx), y(row, ctx)) }
        case .multiply: return { row, ctx in try Semantics.multiply(x(row, ctx), y(row, ctx)) }
        case .divide: return { row, ctx in try Semantics.divide(x(row, ctx), y(row, ctx)) }
        case .modulo: return { row, ctx in try Semantics.modulo(x(row, ctx), y(row, ctx)) }
        case .power: return { row, ctx in try Semantics.power(x(row, ctx), y(row, ctx)) }
        }
    }

    private func compileFunction(_ f: FunctionCall, _ e: Expression) throws -> Eval {
        let name = f.lookupName
        if Aggregation.isAggregate(name) {
            throw DatabaseError(.syntaxError, "Invalid use of aggregating function \(f.name)(...) in this context "
                                    + "(\(e.position))")
        }
        if name == "exists", f.arguments.count == 1 {
            let arg = f.arguments[0]
            switch arg.kind {
            case .property(let target, let key):
                let t = try compile(target)
                return { row, ctx in
                    let v = try t(row, ctx)
                    if v.isNull { return .null }
                    return .boolean(!(try ctx.property(v, key)).isNull)
                }
            case .patternExpression:
                let c = try compile(arg)
                return { row, ctx in
                    if case .list(let l) = try c(row, ctx) { return .boolean(!l.isEmpty) }
                    return .boolean(false)
                }
            default: break
            }
        }
        if name == "coalesce" {
            let args = try f.arguments.map(compile)
            return { row, ctx in
                for a in args {
                    let v = try a(row, ctx)
                    if !v.isNull { return v }
                }
                return .null
            }
        }
        let args = try f.arguments.map(compile)
        if !FunctionLibrary.isKnown(name) {
            // Temporal and spatial names are resolved at run time by TemporalFunctions; reject the rest now.
            let probe = try? TemporalFunctions.call(name, [], context: TemporalContext(statementTimeEpochNanos: 0))
            if probe == nil && !TemporalNames.isTemporal(name) {
                throw DatabaseError(.syntaxError, "Unknown function '\(f.qualifiedName)' (\(e.position))")
            }
        }
        switch args.count {
        case 0: return { _, ctx in try FunctionLibrary.call(name, [], ctx) }
        case 1:
            let a0 = args[0]
            return { row, ctx in try FunctionLibrary.call(name, [try a0(row, ctx)], ctx) }
        default:
            return { row, ctx in try FunctionLibrary.call(name, try args.map { try $0(row, ctx) }, ctx) }
        }
    }

    static func subscriptValue(_ target: Value, _ index: Value, _ ctx: ExecutionContext) throws -> Value {
        switch (target, index) {
        case (.null, _), (_, .null): return .null
        case (.list(let l), .integer(let i)):
            let n = Int64(l.count)
            let j = i < 0 ? n + i : i
            return j >= 0 && j < n ? l[Int(j)] : .null
        case (.list, _):
            throw DatabaseError(.typeError, "List element access by non-integer: \(CypherText.literal(index))")
        case (.map(let m), .string(let k)): return m[k] ?? .null
        case (.node, .string(let k)), (.relationship, .string(let k)): return try ctx.property(target, k)
        case (.map, _), (.node, _), (.relationship, _):
            throw DatabaseError(.typeError, "Map element access by non-string: \(CypherText.literal(index))")
        default:
            throw DatabaseError(.typeError, "Type mismatch: expected a map or a list but was \(Semantics.typeName(target))")
        }
    }

    static func sliceValue(_ target: Value, _ from: Value?, _ to: Value?) throws -> Value {
        if target.isNull || from?.isNull == true || to?.isNull == true { return .null }
        guard case .list(let l) = target else {
            throw DatabaseError(.typeError, "Expected a list but got \(Semantics.typeName(target))")
        }
        let n = Int64(l.count)
        func idx(_ v: Value?, _ dflt: Int64) throws -> Int64 {
            guard let v else { return dflt }
            guard case .integer(let i) = v else {
                throw DatabaseError(.typeError, "List slice bounds must be integers")
            }
            let j = i < 0 ? n + i : i
            return min(max(j, 0), n)
        }
        let lo = try idx(from, 0)
        let hi = try idx(to, n)
        return lo < hi ? .list(Array(l[Int(lo)..<Int(hi)])) : .list([])
    }
}

/// Compiled regular expressions by pattern text (a pattern given as a literal compiles once).
final class RegexCache: @unchecked Sendable {
    private var cache: [String: NSRegularExpression] = [:]
    private let lock = NSLock()

    func regex(_ p: String) throws -> NSRegularExpression {
        lock.lock()
        defer { lock.unlock() }
        if let r = cache[p] { return r }
        do {
            let r = try NSRegularExpression(pattern: p)
            if cache.count < 64 { cache[p] = r }
            return r
        } catch {
            throw DatabaseError(.argumentError, "Invalid Regex: \(p)")
        }
    }
}

/// Names of temporal and spatial functions (resolved by `TemporalFunctions` at run time).
enum TemporalNames {
    static let bases: Set<String> = ["date", "time", "localtime", "datetime", "localdatetime", "duration", "point",
                                     "distance"]

    static func isTemporal(_ name: String) -> Bool {
        let base = name.split(separator: ".").first.map(String.init) ?? name
        return bases.contains(base) || name.hasPrefix("point.")
    }
}

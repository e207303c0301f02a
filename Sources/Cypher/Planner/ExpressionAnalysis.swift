import GraphValues

/// Static facts about AST expressions the planner needs: free variables, aggregates, a position-free key.
enum ExpressionAnalysis {
    /// Variables an expression reads from its row (comprehension-local variables excluded; pattern variables
    /// of pattern expressions are reported, the planner intersects them with what is bound).
    static func freeVariables(_ e: Expression) -> Set<String> {
        var out = Set<String>()
        collect(e, bound: [], into: &out)
        return out
    }

    static func collect(_ e: Expression, bound: Set<String>, into out: inout Set<String>) {
        func go(_ x: Expression?, _ b: Set<String> = bound) {
            if let x { collect(x, bound: b, into: &out) }
        }
        switch e.kind {
        case .literal, .parameter, .countStar: break
        case .variable(let v): if !bound.contains(v) { out.insert(v) }
        case .property(let x, _): go(x)
        case .list(let xs): xs.forEach { go($0) }
        case .map(let es): es.forEach { go($0.value) }
        case .index(let a, let b): go(a); go(b)
        case .slice(let a, let f, let t): go(a); go(f); go(t)
        case .unary(_, let x): go(x)
        case .binary(_, let a, let b): go(a); go(b)
        case .isNull(let x), .isNotNull(let x): go(x)
        case .hasLabels(let x, _): go(x)
        case .function(let f): f.arguments.forEach { go($0) }
        case .caseExpression(let s, let alts, let d):
            go(s)
            for a in alts { go(a.when); go(a.then) }
            go(d)
        case .listComprehension(let v, let src, let p, let proj):
            go(src)
            let b = bound.union([v])
            go(p, b); go(proj, b)
        case .quantified(_, let v, let src, let p):
            go(src)
            go(p, bound.union([v]))
        case .reduce(let acc, let initial, let v, let src, let body):
            go(initial); go(src)
            go(body, bound.union([acc, v]))
        case .mapProjection(let v, let items):
            if !bound.contains(v) { out.insert(v) }
            for i in items {
                switch i {
                case .literal(_, let x): go(x)
                case .variable(let n): if !bound.contains(n) { out.insert(n) }
                default: break
                }
            }
        case .patternComprehension(let pv, let pat, let pred, let proj):
            let local = patternVariables(pat).union(pv.map { [$0] } ?? [])
            for v in patternVariables(pat) where !bound.contains(v) { out.insert(v) }
            collectPatternExpressions(pat, bound: bound, into: &out)
            go(pred, bound.union(local)); go(proj, bound.union(local))
        case .patternExpression(let pat):
            for v in patternVariables(pat) where !bound.contains(v) { out.insert(v) }
            collectPatternExpressions(pat, bound: bound, into: &out)
        case .shortestPathExpression(let part):
            for v in patternVariables(part.element) where !bound.contains(v) { out.insert(v) }
            collectPatternExpressions(part.element, bound: bound, into: &out)
        case .existsSubquery(let pattern, let pred):
            var local = Set<String>()
            for part in pattern.parts {
                local.formUnion(patternVariables(part.element))
                collectPatternExpressions(part.element, bound: bound, into: &out)
            }
            for v in local where !bound.contains(v) { out.insert(v) }
            go(pred, bound.union(local))
        }
    }

    static func collectPatternExpressions(_ p: PatternElement, bound: Set<String>, into out: inout Set<String>) {
        for n in p.nodes {
            if let x = n.properties { collect(x, bound: bound, into: &out) }
            if let x = n.predicate { collect(x, bound: bound.union(n.variable.map { [$0] } ?? []), into: &out) }
        }
        for r in p.relationships {
            if let x = r.properties { collect(x, bound: bound, into: &out) }
            if let x = r.predicate { collect(x, bound: bound.union(r.variable.map { [$0] } ?? []), into: &out) }
        }
    }

    static func patternVariables(_ p: PatternElement) -> Set<String> {
        var s = Set<String>()
        for n in p.nodes { if let v = n.variable { s.insert(v) } }
        for r in p.relationships { if let v = r.variable { s.insert(v) } }
        return s
    }

    static func containsAggregate(_ e: Expression) -> Bool { !aggregates(e).isEmpty }

    /// Aggregate calls in `e`, outermost first (an aggregate's arguments are not searched).
    static func aggregates(_ e: Expression) -> [Expression] {
        var out: [Expression] = []
        func walk(_ x: Expression) {
            switch x.kind {
            case .countStar: out.append(x); return
            case .function(let f) where Aggregation.isAggregate(f.lookupName): out.append(x); return
            default: children(x).forEach(walk)
            }
        }
        walk(e)
        return out
    }

    static func children(_ e: Expression) -> [Expression] {
        switch e.kind {
        case .literal, .parameter, .variable, .countStar, .patternExpression, .shortestPathExpression,
            .existsSubquery, .patternComprehension:
            return []
        case .mapProjection(_, let items):
            return items.compactMap { if case .literal(_, let x) = $0 { return x } else { return nil } }
        case .property(let x, _): return [x]
        case .list(let xs): return xs
        case .map(let es): return es.map(\.value)
        case .index(let a, let b): return [a, b]
        case .slice(let a, let f, let t): return [a] + [f, t].compactMap { $0 }
        case .unary(_, let x): return [x]
        case .binary(_, let a, let b): return [a, b]
        case .isNull(let x), .isNotNull(let x): return [x]
        case .hasLabels(let x, _): return [x]
        case .function(let f): return f.arguments
        case .caseExpression(let s, let alts, let d):
            return [s].compactMap { $0 } + alts.flatMap { [$0.when, $0.then] } + [d].compactMap { $0 }
        case .listComprehension(_, let src, let p, let proj): return [src] + [p, proj].compactMap { $0 }
        case .quantified(_, _, let src, let p): return [src] + [p].compactMap { $0 }
        case .reduce(_, let i, _, let src, let body): return [i, src, body]
        }
    }

    /// A text key for an expression that ignores source positions (to match `ORDER BY count(*)` with the
    /// projected `count(*)`).
    static func key(_ e: Expression) -> String {
        stripPositions(String(describing: e.kind))
    }

    private static func stripPositions(_ s: String) -> String {
        // SourcePosition prints as "line L, column C (offset: O)".
        var out = ""
        var rest = Substring(s)
        while let r = rest.range(of: "line ") {
            out += rest[rest.startIndex..<r.lowerBound]
            let after = rest[r.upperBound...]
            if let close = after.range(of: ")"), after[after.startIndex..<close.lowerBound].contains("(offset:") {
                rest = after[close.upperBound...]
            } else {
                out += "line "
                rest = after
            }
        }
        out += rest
        return out
    }

    /// `variable.key` reads of `e` evaluated in the scope of `e` itself, as (variable, key) in order of appearance.
    /// Bodies that bind their own variables (comprehensions, quantifiers, reduce, patterns) are not searched, so a
    /// shadowing `x` there is never taken for the outer one.
    static func directPropertyReads(_ e: Expression) -> [(String, String)] {
        var out: [(String, String)] = []
        func walk(_ x: Expression) {
            switch x.kind {
            case .property(let t, let k):
                if case .variable(let v) = t.kind { out.append((v, k)) } else { walk(t) }
            case .listComprehension, .quantified, .reduce, .mapProjection, .patternComprehension,
                .patternExpression, .shortestPathExpression, .existsSubquery:
                return
            default:
                children(x).forEach(walk)
            }
        }
        walk(e)
        return out
    }

    /// Splits a predicate into its AND-ed conjuncts.
    static func conjuncts(_ e: Expression) -> [Expression] {
        if case .binary(.and, let a, let b) = e.kind { return conjuncts(a) + conjuncts(b) }
        return [e]
    }
}

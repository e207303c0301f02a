import GraphValues

/// Compile-time checks after parsing: variable scoping, aggregation rules, type conflicts, clause composition.
///
/// Every failure is a `DatabaseError` with code `Neo.ClientError.Statement.SyntaxError` (Neo4j reports nearly all
/// compile-time semantic problems with that code, and the openCypher TCK expects "SyntaxError at compile time").
/// The message names the TCK detail in parentheses, e.g. `Variable `x` not defined (UndefinedVariable)`, and ends
/// with the position: `(line 1, column 8 (offset: 7))`.
///
/// Static types are inferred only as far as literals, entity variables and a few functions allow; anything else is
/// `any` and left to the runtime, so valid queries are never rejected for lack of knowledge.
public enum SemanticAnalyzer {
    /// Checks `statement` and returns it (unchanged today; normalisations would go here).
    ///
    /// - Throws: `DatabaseError` with `.syntaxError` naming the TCK detail (UndefinedVariable, VariableAlreadyBound,
    ///   VariableTypeConflict, InvalidAggregation, AmbiguousAggregationExpression, NestedAggregation,
    ///   NoExpressionAlias, ColumnNameConflict, DifferentColumnsInUnion, InvalidClauseComposition, …).
    public static func analyze(_ statement: Statement) throws -> Statement {
        let analyzer = Analyzer()
        switch statement.kind {
        case .query(let query):
            _ = try analyzer.query(query, outer: [:], isSubquery: false)
        case .schema(let command):
            if case .show(_, _, _, _, let whereClause?, _) = command {
                // SHOW … WHERE sees the output columns; their names are not checked here.
                _ = whereClause
            }
        }
        return statement
    }
}

/// What the analyzer knows about a value's type.
indirect enum StaticType: Equatable, Sendable {
    case any
    case null
    case boolean
    case integer
    case float
    case string
    case list(StaticType)
    case map
    case node
    case relationship
    case path

    var isList: Bool {
        if case .list = self { return true }
        return false
    }

    var name: String {
        switch self {
        case .any: return "Any"
        case .null: return "Null"
        case .boolean: return "Boolean"
        case .integer: return "Integer"
        case .float: return "Float"
        case .string: return "String"
        case .list: return "List"
        case .map: return "Map"
        case .node: return "Node"
        case .relationship: return "Relationship"
        case .path: return "Path"
        }
    }

    /// Types that can never be a predicate (AND/OR/XOR/NOT operands, WHERE).
    var isNonBoolean: Bool {
        switch self {
        case .integer, .float, .string, .list, .map, .node, .relationship, .path: return true
        case .any, .null, .boolean: return false
        }
    }
}

typealias Scope = [String: StaticType]

private let aggregateFunctions: Set<String> = [
    "count", "sum", "avg", "min", "max", "collect", "stdev", "stdevp", "percentilecont", "percentiledisc",
]

private let nonDeterministicFunctions: Set<String> = ["rand", "randomuuid"]

/// Built-in functions without a namespace (lower-cased). Namespaced names (`date.truncate`, user functions) are
/// resolved at runtime.
private let knownFunctions: Set<String> = aggregateFunctions.union([
    "abs", "acos", "asin", "atan", "atan2", "ceil", "coalesce", "cos", "cot", "cosh", "coth", "degrees", "e",
    "endnode", "exists", "exp", "floor", "haversin", "head", "id", "elementid", "keys", "labels", "last", "left",
    "length", "log", "log10", "ltrim", "nodes", "pi", "properties", "radians", "rand", "randomuuid", "range",
    "relationships", "replace", "reverse", "right", "round", "rtrim", "sign", "sin", "sinh", "size", "split", "sqrt",
    "startnode", "substring", "tail", "tan", "tanh", "timestamp", "toboolean", "tofloat", "tointeger", "tolower",
    "tostring", "toupper", "trim", "btrim", "lower", "upper", "type", "date", "datetime", "localdatetime", "localtime",
    "time", "duration", "point", "distance", "isempty", "isnan", "tobooleanlist", "tofloatlist", "tointegerlist",
    "tostringlist", "tobooleanornull", "tofloatornull", "tointegerornull", "tostringornull", "char_length",
    "character_length", "nullif", "valuetype", "filter", "extract", "all", "any", "none", "single", "reduce",
])

private func compileError(_ message: String, _ detail: String, at position: SourcePosition) -> DatabaseError {
    DatabaseError(.syntaxError, "\(message) (\(detail)) (\(position))")
}

/// Where an expression appears, for the aggregation rules.
private struct ExpressionContext {
    /// Aggregate functions may appear (WITH/RETURN items, ORDER BY of an aggregating projection).
    var aggregationAllowed = false
    /// Inside an aggregate function's arguments.
    var insideAggregate = false
    /// Variables introduced by comprehensions/quantifiers/reduce around this point.
    var locals: Set<String> = []
    /// A pattern expression `(a)-->(b)` may stand here (a predicate position: WHERE, boolean operands,
    /// `exists(…)`/`size(…)` arguments); elsewhere openCypher rejects it as UnexpectedSyntax.
    var patternAllowed = false
}

private struct Analyzer {
    // MARK: - Queries

    /// Returns the result columns.
    func query(_ query: Query, outer: Scope, isSubquery: Bool) throws -> [String] {
        if let mixed = query.unions.first(where: { $0.all != query.unions[0].all }) {
            throw compileError(
                "Invalid combination of UNION and UNION ALL", "InvalidClauseComposition", at: mixed.position)
        }
        let columns = try singleQuery(query.first, outer: outer, isSubquery: isSubquery)
        for part in query.unions {
            let other = try singleQuery(part.query, outer: outer, isSubquery: isSubquery)
            if other != columns {
                throw compileError(
                    "All sub queries in an UNION must have the same return column names", "DifferentColumnsInUnion",
                    at: part.position)
            }
        }
        return columns
    }

    func singleQuery(_ query: SingleQuery, outer: Scope, isSubquery: Bool) throws -> [String] {
        var scope: Scope = [:]
        var columns: [String] = []
        let clauses = query.clauses
        for (i, clause) in clauses.enumerated() {
            let isLast = i == clauses.count - 1
            if case .return = clause, !isLast {
                throw compileError(
                    "RETURN can only be used at the end of the query", "InvalidClauseComposition",
                    at: clauses[i + 1].position)
            }
            // A subquery's leading WITH imports variables from the enclosing query.
            let visible = (i == 0 && isSubquery) ? outer : scope
            switch clause {
            case .with(let w) where i == 0 && isSubquery:
                scope = try projection(w.projection, whereClause: w.whereClause, isWith: true, scope: visible,
                    position: w.position).scope
            default:
                scope = try self.clause(clause, scope: scope, columns: &columns)
            }
        }
        guard let last = clauses.last else { return [] }
        switch last {
        case .return, .create, .merge, .set, .remove, .delete, .foreach, .call, .subquery:
            break
        default:
            throw compileError(
                "Query cannot conclude with \(last.name) (must be a RETURN clause, an update clause, "
                    + "a unit subquery call, or a procedure call with no YIELD)", "InvalidClauseComposition",
                at: last.position)
        }
        return columns
    }

    /// Checks one clause and returns the scope after it.
    func clause(_ clause: Clause, scope: Scope, columns: inout [String]) throws -> Scope {
        switch clause {
        case .match(let m):
            var next = scope
            try bindMatchPattern(m.pattern, scope: &next, allowParameterMaps: false, clauseName: m.optional
                ? "OPTIONAL MATCH" : "MATCH")
            for hint in m.hints {
                if case .index(let v, _, _, _, let p) = hint, next[v] == nil {
                    throw compileError("Variable `\(v)` not defined", "UndefinedVariable", at: p)
                }
            }
            if let w = m.whereClause { try predicate(w, scope: next) }
            return next
        case .create(let c):
            var next = scope
            for part in c.pattern.parts {
                try bindCreatePart(part, scope: &next, merge: false)
            }
            return next
        case .merge(let m):
            var next = scope
            try bindCreatePart(m.pattern, scope: &next, merge: true)
            for action in m.actions {
                for item in action.items { try setItem(item, scope: next) }
            }
            return next
        case .set(let s):
            for item in s.items { try setItem(item, scope: scope) }
            return scope
        case .remove(let r):
            for item in r.items {
                switch item {
                case .property(let entity, _, _):
                    _ = try type(of: entity, scope: scope)
                case .labels(let v, _, let p):
                    try requireDefined(v, scope: scope, at: p)
                }
            }
            return scope
        case .delete(let d):
            for e in d.expressions {
                switch e.kind {
                case .hasLabels, .map, .binary, .unary, .isNull, .isNotNull:
                    throw compileError(
                        "Type mismatch: expected Node, Path or Relationship but was \(describe(e))", "InvalidDelete",
                        at: e.position)
                default:
                    let t = try type(of: e, scope: scope)
                    switch t {
                    case .integer, .float, .string, .boolean, .map:
                        throw compileError(
                            "Type mismatch: expected Node, Path or Relationship but was \(t.name)", "InvalidDelete",
                            at: e.position)
                    default: break
                    }
                }
            }
            return scope
        case .with(let w):
            return try projection(w.projection, whereClause: w.whereClause, isWith: true, scope: scope,
                position: w.position).scope
        case .return(let r):
            let result = try projection(r.projection, whereClause: nil, isWith: false, scope: scope,
                position: r.position)
            columns = result.columns
            return result.scope
        case .unwind(let u):
            let t = try type(of: u.expression, scope: scope)
            try requireUnbound(u.variable, scope: scope, at: u.position)
            var next = scope
            if case .list(let element) = t {
                next[u.variable] = element
            } else {
                next[u.variable] = t == .null ? .null : (t == .any ? .any : t)
            }
            return next
        case .foreach(let f):
            let t = try type(of: f.list, scope: scope)
            try requireUnbound(f.variable, scope: scope, at: f.position)
            var inner = scope
            if case .list(let element) = t { inner[f.variable] = element } else { inner[f.variable] = .any }
            var ignoredColumns: [String] = []
            for c in f.clauses {
                inner = try self.clause(c, scope: inner, columns: &ignoredColumns)
            }
            return scope
        case .call(let call):
            for a in call.arguments ?? [] { _ = try type(of: a, scope: scope) }
            var next = scope
            var seen: Set<String> = []
            for item in call.yieldItems ?? [] {
                if seen.contains(item.variable) || scope[item.variable] != nil {
                    throw compileError(
                        "Variable `\(item.variable)` already declared", "VariableAlreadyBound", at: item.position)
                }
                seen.insert(item.variable)
                next[item.variable] = .any
            }
            if let w = call.whereClause { try predicate(w, scope: next) }
            if call.isStandalone, let items = call.yieldItems {
                columns = items.map(\.variable)
            }
            return next
        case .loadCSV(let l):
            _ = try type(of: l.url, scope: scope)
            try requireUnbound(l.variable, scope: scope, at: l.position)
            var next = scope
            next[l.variable] = l.withHeaders ? .map : .list(.string)
            return next
        case .subquery(let s):
            let returned = try query(s.query, outer: scope, isSubquery: true)
            var next = scope
            for name in returned {
                if scope[name] != nil {
                    throw compileError("Variable `\(name)` already declared", "VariableAlreadyBound", at: s.position)
                }
                next[name] = .any
            }
            return next
        }
    }

    // MARK: - Projections

    struct ProjectionResult {
        var scope: Scope
        var columns: [String]
    }

    func projection(
        _ body: ProjectionBody, whereClause: Expression?, isWith: Bool, scope: Scope, position: SourcePosition
    ) throws -> ProjectionResult {
        var context = ExpressionContext()
        context.aggregationAllowed = true
        var newScope: Scope = [:]
        var columns: [String] = []
        if body.includeExisting {
            let names = scope.keys.sorted()
            if names.isEmpty && body.items.isEmpty && !isWith {
                throw compileError(
                    "\(isWith ? "WITH" : "RETURN") * is not allowed when there are no variables in scope",
                    "NoVariablesInScope", at: position)
            }
            for n in names {
                newScope[n] = scope[n]
                columns.append(n)
            }
        }
        var aggregating = false
        var itemTypes: [StaticType] = []
        for item in body.items {
            itemTypes.append(try type(of: item.expression, scope: scope, context: context))
            if containsAggregate(item.expression) { aggregating = true }
        }
        if aggregating {
            try checkAmbiguousAggregation(body.items)
        }
        // ORDER BY sees the projected names; it also sees the incoming variables unless the projection
        // aggregates or is DISTINCT (then only what was projected exists).
        var orderScope: Scope = body.includeExisting ? scope : [:]
        for (item, t) in zip(body.items, itemTypes) { orderScope[item.name] = t }
        let onlyProjected = aggregating || body.distinct
        if !onlyProjected {
            for (k, v) in scope where orderScope[k] == nil { orderScope[k] = v }
        }
        for sort in body.orderBy {
            if !aggregating, let agg = firstAggregate(in: sort.expression) {
                throw compileError(
                    "Cannot use aggregation in ORDER BY if there are no aggregate expressions in the preceding "
                        + "\(isWith ? "WITH" : "RETURN")", "InvalidAggregation", at: agg.position)
            }
            // Scope first (an ORDER BY after an aggregation sees only projected columns), then grouping rules.
            let rewritten = substituteProjected(sort.expression, items: body.items)
            var orderContext = ExpressionContext()
            orderContext.aggregationAllowed = aggregating
            _ = try type(
                of: rewritten, scope: onlyProjected ? projectedOnly(orderScope, body: body, scope: scope) : orderScope,
                context: orderContext)
            if aggregating && containsAggregate(sort.expression) {
                try checkAmbiguousAggregation(
                    [ReturnItem(expression: sort.expression, alias: nil, name: "", position: sort.position)]
                        + body.items, checkOnlyFirst: true)
            }
        }
        for (item, t) in zip(body.items, itemTypes) {
            if isWith && item.alias == nil {
                guard case .variable = item.expression.kind else {
                    throw compileError(
                        "Expression in WITH must be aliased (use AS)", "NoExpressionAlias", at: item.position)
                }
            }
            if columns.contains(item.name) {
                throw compileError(
                    "Multiple result columns with the same name are not supported", "ColumnNameConflict",
                    at: item.position)
            }
            columns.append(item.name)
            newScope[item.name] = t
        }
        try limitExpression(body.skip, clause: "SKIP")
        try limitExpression(body.limit, clause: "LIMIT")
        if let w = whereClause {
            var whereScope = newScope
            if !aggregating {
                for (k, v) in scope where whereScope[k] == nil { whereScope[k] = v }
            }
            try predicate(w, scope: whereScope)
        }
        return ProjectionResult(scope: newScope, columns: columns)
    }

    /// The ORDER BY scope of an aggregating/DISTINCT projection: projected names (plus `*` names).
    func projectedOnly(_ orderScope: Scope, body: ProjectionBody, scope: Scope) -> Scope {
        var s: Scope = body.includeExisting ? scope : [:]
        for item in body.items { s[item.name] = orderScope[item.name] ?? .any }
        return s
    }

    /// Replaces sub-expressions equal to a projected item's expression by a reference to its column.
    func substituteProjected(_ e: Expression, items: [ReturnItem]) -> Expression {
        for item in items where sameExpression(item.expression, e) {
            return Expression(.variable(item.name), at: e.position)
        }
        return e.mapChildren { substituteProjected($0, items: items) }
    }

    func limitExpression(_ e: Expression?, clause: String) throws {
        guard let e else { return }
        if let v = firstVariable(in: e) {
            throw compileError(
                "It is not allowed to refer to variables in \(clause) (variable `\(v)`)", "NonConstantExpression",
                at: e.position)
        }
        switch e.kind {
        case .literal(.integer(let i)) where i < 0:
            throw compileError(
                "Invalid input. '\(i)' is not a valid value. Must be a non-negative integer.",
                "NegativeIntegerArgument", at: e.position)
        case .literal(.float(let d)):
            throw compileError(
                "Invalid input. '\(d)' is not a valid value. Must be a non-negative integer.",
                "InvalidArgumentType", at: e.position)
        case .literal(.string), .literal(.boolean), .list, .map:
            throw compileError(
                "Invalid input. \(clause) must be a non-negative integer.", "InvalidArgumentType", at: e.position)
        default:
            break
        }
    }

    /// In an aggregating projection, the parts of an item outside aggregate calls may only use grouping keys
    /// (variables, or `variable.property`, projected on their own).
    func checkAmbiguousAggregation(_ items: [ReturnItem], checkOnlyFirst: Bool = false) throws {
        var groupingVariables: Set<String> = []
        var groupingProperties: Set<String> = []
        for item in items where !containsAggregate(item.expression) {
            switch item.expression.kind {
            case .variable(let v):
                groupingVariables.insert(v)
            case .property(let base, let key):
                if case .variable(let v) = base.kind { groupingProperties.insert("\(v).\(key)") }
            default:
                break
            }
            groupingVariables.insert(item.name)
        }
        let toCheck = checkOnlyFirst ? Array(items.prefix(1)) : items
        for item in toCheck where containsAggregate(item.expression) {
            try checkGrouping(item.expression, variables: groupingVariables, properties: groupingProperties,
                locals: [])
        }
    }

    func checkGrouping(_ e: Expression, variables: Set<String>, properties: Set<String>, locals: Set<String>)
        throws
    {
        switch e.kind {
        case .function(let f) where f.namespace.isEmpty && aggregateFunctions.contains(f.name.lowercased()):
            return
        case .countStar:
            return
        case .variable(let v):
            if !locals.contains(v) && !variables.contains(v) {
                throw compileError(
                    "Aggregation column contains implicit grouping expressions referring to `\(v)`; use it as a "
                        + "grouping key on its own", "AmbiguousAggregationExpression", at: e.position)
            }
        case .property(let base, let key):
            if case .variable(let v) = base.kind, !locals.contains(v) {
                if variables.contains(v) || properties.contains("\(v).\(key)") { return }
                throw compileError(
                    "Aggregation column contains implicit grouping expressions referring to `\(v).\(key)`; use it as "
                        + "a grouping key on its own", "AmbiguousAggregationExpression", at: e.position)
            }
            try checkGrouping(base, variables: variables, properties: properties, locals: locals)
        default:
            var inner = locals
            inner.formUnion(e.kind.introducedVariables)
            for child in e.children {
                try checkGrouping(child, variables: variables, properties: properties, locals: inner)
            }
        }
    }

    // MARK: - Patterns

    func bindMatchPattern(
        _ pattern: Pattern, scope: inout Scope, allowParameterMaps: Bool, clauseName: String
    ) throws {
        var relationshipsInPattern: Set<String> = []
        let before = scope
        for part in pattern.parts {
            try bindElement(part.element, scope: &scope, before: before, relsInPattern: &relationshipsInPattern,
                allowParameterMaps: allowParameterMaps)
            if let p = part.variable {
                if scope[p] != nil {
                    throw compileError("Variable `\(p)` already declared", "VariableAlreadyBound", at: part.position)
                }
                scope[p] = .path
            }
            if part.selector != .all {
                let rels = part.element.relationships
                if rels.count != 1 {
                    throw compileError(
                        "shortestPath(…) requires a pattern containing a single relationship", "InvalidArgument",
                        at: part.position)
                }
            }
        }
        // Property maps may refer to any variable of the pattern.
        for part in pattern.parts {
            try patternExpressions(part.element, scope: scope)
        }
    }

    func bindElement(
        _ element: PatternElement, scope: inout Scope, before: Scope, relsInPattern: inout Set<String>,
        allowParameterMaps: Bool
    ) throws {
        for node in element.nodes {
            if !allowParameterMaps, let props = node.properties, case .parameter = props.kind {
                throw compileError(
                    "Parameter maps cannot be used in MATCH patterns (use a literal map instead, e.g. "
                        + "\"{id: $param.id}\")", "InvalidParameterUse", at: props.position)
            }
            guard let v = node.variable else { continue }
            if let t = scope[v] {
                switch t {
                case .node, .any, .null: break
                default:
                    throw compileError(
                        "Type mismatch: `\(v)` defined with conflicting type \(t.name) (expected Node)",
                        "VariableTypeConflict", at: node.position)
                }
            } else {
                scope[v] = .node
            }
        }
        for rel in element.relationships {
            if !allowParameterMaps, let props = rel.properties, case .parameter = props.kind {
                throw compileError(
                    "Parameter maps cannot be used in MATCH patterns (use a literal map instead, e.g. "
                        + "\"{id: $param.id}\")", "InvalidParameterUse", at: props.position)
            }
            if let length = rel.length, let lo = length.minimum, let hi = length.maximum, lo > hi {
                _ = lo  // An empty range matches nothing; Neo4j accepts it.
            }
            guard let v = rel.variable else { continue }
            let expected: StaticType = rel.length == nil ? .relationship : .list(.relationship)
            if relsInPattern.contains(v) {
                throw compileError(
                    "Cannot use the same relationship variable '\(v)' for multiple relationships",
                    "RelationshipUniquenessViolation", at: rel.position)
            }
            if let t = scope[v] {
                let ok: Bool
                switch (t, expected) {
                case (.any, _), (.null, _): ok = true
                case (.relationship, .relationship): ok = before[v] != nil
                case (.list(let e), .list): ok = e == .relationship || e == .any
                default: ok = false
                }
                if !ok {
                    throw compileError(
                        "Type mismatch: `\(v)` defined with conflicting type \(t.name) (expected Relationship)",
                        "VariableTypeConflict", at: rel.position)
                }
            } else {
                scope[v] = expected
            }
            relsInPattern.insert(v)
        }
    }

    /// Checks property maps and inline predicates of a pattern against the scope.
    func patternExpressions(_ element: PatternElement, scope: Scope) throws {
        for node in element.nodes {
            if let p = node.properties { try mapOperand(p, scope: scope) }
            if let w = node.predicate { try predicate(w, scope: scope) }
        }
        for rel in element.relationships {
            if let p = rel.properties { try mapOperand(p, scope: scope) }
            if let w = rel.predicate { try predicate(w, scope: scope) }
        }
    }

    func mapOperand(_ e: Expression, scope: Scope) throws {
        var context = ExpressionContext()
        context.aggregationAllowed = false
        _ = try type(of: e, scope: scope, context: context)
    }

    /// CREATE / MERGE pattern parts.
    func bindCreatePart(_ part: PatternPart, scope: inout Scope, merge: Bool) throws {
        let clauseName = merge ? "MERGE" : "CREATE"
        let element = part.element
        let before = scope
        for node in element.nodes {
            if merge, let props = node.properties, case .parameter = props.kind {
                throw compileError(
                    "Parameter maps cannot be used in MERGE patterns (use a literal map instead, e.g. "
                        + "\"{id: $param.id}\")", "InvalidParameterUse", at: props.position)
            }
            guard let v = node.variable else { continue }
            if let t = scope[v] {
                let bare = node.labels.isEmpty && node.properties == nil
                if !bare || element.relationships.isEmpty {
                    throw compileError(
                        "Can't create node `\(v)` with labels or properties here. The variable is already declared "
                            + "in this context", "VariableAlreadyBound", at: node.position)
                }
                switch t {
                case .node, .any, .null: break
                default:
                    throw compileError(
                        "Type mismatch: `\(v)` defined with conflicting type \(t.name) (expected Node)",
                        "VariableTypeConflict", at: node.position)
                }
            } else {
                scope[v] = .node
            }
        }
        for rel in element.relationships {
            if merge, let props = rel.properties, case .parameter = props.kind {
                throw compileError(
                    "Parameter maps cannot be used in MERGE patterns", "InvalidParameterUse", at: props.position)
            }
            if rel.types.count != 1 {
                throw compileError(
                    "Exactly one relationship type must be specified for \(clauseName). Did you forget to prefix "
                        + "your relationship type with a ':'?", "NoSingleRelationshipType", at: rel.position)
            }
            if rel.direction == .both && !merge {
                throw compileError(
                    "Only directed relationships are supported in CREATE", "RequiresDirectedRelationship",
                    at: rel.position)
            }
            if rel.length != nil {
                throw compileError(
                    "Variable length relationships cannot be used in \(clauseName)", "CreatingVarLength",
                    at: rel.position)
            }
            guard let v = rel.variable else { continue }
            if scope[v] != nil {
                throw compileError(
                    "Can't create relationship `\(v)`: the variable is already declared in this context",
                    "VariableAlreadyBound", at: rel.position)
            }
            scope[v] = .relationship
        }
        if let p = part.variable {
            if scope[p] != nil {
                throw compileError("Variable `\(p)` already declared", "VariableAlreadyBound", at: part.position)
            }
            scope[p] = .path
        }
        // CREATE property maps see only what was bound before the clause plus this part's variables.
        _ = before
        try patternExpressions(element, scope: scope)
    }

    func setItem(_ item: SetItem, scope: Scope) throws {
        let context = ExpressionContext()
        switch item {
        case .property(let entity, _, let value, _):
            let t = try type(of: entity, scope: scope, context: context)
            _ = t
            _ = try type(of: value, scope: scope, context: context)
        case .replaceProperties(let v, let value, let p), .mergeProperties(let v, let value, let p):
            try requireDefined(v, scope: scope, at: p)
            _ = try type(of: value, scope: scope, context: context)
        case .labels(let v, _, let p):
            try requireDefined(v, scope: scope, at: p)
        }
    }

    func requireDefined(_ v: String, scope: Scope, at p: SourcePosition) throws {
        if scope[v] == nil {
            throw compileError("Variable `\(v)` not defined", "UndefinedVariable", at: p)
        }
    }

    func requireUnbound(_ v: String, scope: Scope, at p: SourcePosition) throws {
        if scope[v] != nil {
            throw compileError("Variable `\(v)` already declared", "VariableAlreadyBound", at: p)
        }
    }

    // MARK: - Expressions

    func predicate(_ e: Expression, scope: Scope) throws {
        var context = ExpressionContext()
        context.patternAllowed = true
        let t = try type(of: e, scope: scope, context: context)
        if t.isNonBoolean {
            throw compileError("Type mismatch: expected Boolean but was \(t.name)", "InvalidArgumentType",
                at: e.position)
        }
    }

    func type(of e: Expression, scope: Scope) throws -> StaticType {
        try type(of: e, scope: scope, context: ExpressionContext())
    }

    func describe(_ e: Expression) -> String {
        switch e.kind {
        case .hasLabels: return "a label expression"
        case .literal(let v):
            switch v {
            case .integer: return "Integer"
            case .float: return "Float"
            case .string: return "String"
            case .boolean: return "Boolean"
            case .null: return "Null"
            default: return "a literal"
            }
        case .map: return "Map"
        default: return "an expression"
        }
    }

    func type(of e: Expression, scope: Scope, context incoming: ExpressionContext) throws -> StaticType {
        // Only boolean operators pass the "pattern allowed" position on to their operands.
        var context = incoming
        context.patternAllowed = false
        var booleanContext = context
        booleanContext.patternAllowed = incoming.patternAllowed
        switch e.kind {
        case .literal(let v):
            switch v {
            case .null: return .null
            case .boolean: return .boolean
            case .integer: return .integer
            case .float: return .float
            case .string: return .string
            default: return .any
            }
        case .parameter:
            return .any
        case .variable(let name):
            if context.locals.contains(name) { return scope[name] ?? .any }
            guard let t = scope[name] else {
                throw compileError("Variable `\(name)` not defined", "UndefinedVariable", at: e.position)
            }
            return t
        case .property(let base, let key):
            let t = try type(of: base, scope: scope, context: context)
            switch t {
            case .integer, .float, .string, .boolean, .list:
                // Neo4j reports this one as a TypeError at compile time (TCK Graph6/Map1).
                throw DatabaseError(
                    .typeError,
                    "Type mismatch: expected Map, Node, Relationship, Point, Duration, Date, Time, LocalTime, "
                        + "LocalDateTime or DateTime but was \(t.name) (accessing `\(key)`) (InvalidArgumentType) "
                        + "(\(e.position))")
            case .path:
                throw compileError(
                    "Type mismatch: expected Map, Node, Relationship, Point, Duration, Date, Time, LocalTime, "
                        + "LocalDateTime or DateTime but was Path (accessing `\(key)`)", "InvalidArgumentType",
                    at: e.position)
            default:
                return .any
            }
        case .list(let items):
            var element: StaticType?
            for item in items {
                let t = try type(of: item, scope: scope, context: context)
                if element == nil { element = t } else if element != t { element = .any }
            }
            return .list(element ?? .any)
        case .map(let entries):
            for entry in entries { _ = try type(of: entry.value, scope: scope, context: context) }
            return .map
        case .index(let base, let index):
            let b = try type(of: base, scope: scope, context: context)
            let i = try type(of: index, scope: scope, context: context)
            switch b {
            case .integer, .float, .boolean:
                // A TypeError in Neo4j and the TCK (List1 [6]), although found before execution.
                throw DatabaseError(
                    .typeError,
                    "Type mismatch: expected List, Map, Node or Relationship but was \(b.name) (InvalidArgumentType) "
                        + "(\(e.position))")
            default: break
            }
            if b.isList, case .list(let element) = b {
                switch i {
                case .string, .boolean, .float, .list, .map, .node, .relationship, .path:
                    throw DatabaseError(
                        .typeError,
                        "Type mismatch: expected Integer but was \(i.name) (InvalidArgumentType) (\(index.position))")
                default: return element
                }
            }
            return .any
        case .slice(let base, let from, let to):
            let b = try type(of: base, scope: scope, context: context)
            if let from { _ = try type(of: from, scope: scope, context: context) }
            if let to { _ = try type(of: to, scope: scope, context: context) }
            return b.isList ? b : .any
        case .unary(let op, let operand):
            let t = try type(of: operand, scope: scope, context: op == .not ? booleanContext : context)
            switch op {
            case .not:
                try requireBoolean(t, at: operand.position, op: "NOT")
                return .boolean
            case .negate, .plus:
                switch t {
                case .string, .boolean, .list, .map, .node, .relationship, .path:
                    throw compileError(
                        "Type mismatch: expected Integer, Float or Duration but was \(t.name)", "InvalidArgumentType",
                        at: operand.position)
                default: return t
                }
            }
        case .binary(let op, let l, let r):
            let operandContext = [.and, .or, .xor].contains(op) ? booleanContext : context
            let lt = try type(of: l, scope: scope, context: operandContext)
            let rt = try type(of: r, scope: scope, context: operandContext)
            switch op {
            case .and, .or, .xor:
                try requireBoolean(lt, at: l.position, op: op.rawValue)
                try requireBoolean(rt, at: r.position, op: op.rawValue)
                return .boolean
            case .equal, .notEqual, .lessThan, .greaterThan, .lessThanOrEqual, .greaterThanOrEqual, .regexMatch,
                .startsWith, .endsWith, .contains, .in:
                return .boolean
            case .add:
                switch (lt, rt) {
                case (.integer, .integer): return .integer
                case (.float, .float), (.integer, .float), (.float, .integer): return .float
                case (.string, .string), (.string, .integer), (.string, .float), (.integer, .string),
                    (.float, .string):
                    return .string
                case (.list, _), (_, .list): return .list(.any)
                case (.boolean, .integer), (.boolean, .float), (.integer, .boolean), (.float, .boolean),
                    (.boolean, .boolean), (.map, .integer), (.integer, .map), (.node, _), (_, .node):
                    throw compileError(
                        "Type mismatch: cannot add \(lt.name) and \(rt.name)", "InvalidArgumentType", at: e.position)
                default: return .any
                }
            case .subtract, .multiply, .divide, .modulo, .power:
                for (t, operand) in [(lt, l), (rt, r)] {
                    switch t {
                    case .string, .boolean, .list, .map, .node, .relationship, .path:
                        throw compileError(
                            "Type mismatch: expected Integer, Float or Duration but was \(t.name)",
                            "InvalidArgumentType", at: operand.position)
                    default: break
                    }
                }
                switch (lt, rt) {
                case (.integer, .integer): return op == .power ? .float : .integer
                case (.float, .float), (.integer, .float), (.float, .integer): return .float
                default: return .any
                }
            }
        case .isNull(let x), .isNotNull(let x):
            _ = try type(of: x, scope: scope, context: context)
            return .boolean
        case .hasLabels(let x, _):
            let t = try type(of: x, scope: scope, context: context)
            switch t {
            case .integer, .float, .string, .boolean, .list, .map, .path:
                throw compileError(
                    "Type mismatch: expected Node but was \(t.name)", "InvalidArgumentType", at: x.position)
            default: return .boolean
            }
        case .countStar:
            if !context.aggregationAllowed && !context.insideAggregate {
                throw compileError(
                    "Invalid use of aggregating function count(...) in this context", "InvalidAggregation",
                    at: e.position)
            }
            if context.insideAggregate {
                throw compileError(
                    "Can't use aggregate functions inside of aggregate functions", "NestedAggregation",
                    at: e.position)
            }
            return .integer
        case .function(let f):
            return try functionType(f, e: e, scope: scope, context: context)
        case .caseExpression(let subject, let alternatives, let defaultValue):
            if let subject { _ = try type(of: subject, scope: scope, context: context) }
            var result: StaticType?
            for alt in alternatives {
                _ = try type(of: alt.when, scope: scope, context: subject == nil ? booleanWhen(context) : context)
                let t = try type(of: alt.then, scope: scope, context: context)
                result = result == nil ? t : (result == t ? t : .any)
            }
            if let d = defaultValue {
                let t = try type(of: d, scope: scope, context: context)
                result = result == t ? t : .any
            } else if result != .null {
                result = .any
            }
            return result ?? .any
        case .listComprehension(let v, let source, let predicate, let projection):
            let st = try type(of: source, scope: scope, context: context)
            var inner = scope
            inner[v] = elementType(st)
            var innerContext = context
            innerContext.aggregationAllowed = false
            innerContext.locals.insert(v)
            if let predicate {
                try checkNoAggregate(predicate, what: "list comprehension")
                _ = try type(of: predicate, scope: inner, context: booleanWhen(innerContext))
            }
            if let projection {
                try checkNoAggregate(projection, what: "list comprehension")
                return .list(try type(of: projection, scope: inner, context: innerContext))
            }
            return st.isList ? st : .list(.any)
        case .quantified(_, let v, let source, let predicate):
            let st = try type(of: source, scope: scope, context: context)
            switch st {
            case .integer, .float, .string, .boolean, .map, .node, .relationship, .path:
                throw compileError(
                    "Type mismatch: expected List but was \(st.name)", "InvalidArgumentType", at: source.position)
            default: break
            }
            var inner = scope
            inner[v] = elementType(st)
            var innerContext = context
            innerContext.aggregationAllowed = false
            innerContext.locals.insert(v)
            if let predicate {
                try checkNoAggregate(predicate, what: "list predicate")
                let pt = try type(of: predicate, scope: inner, context: booleanWhen(innerContext))
                try requireBoolean(pt, at: predicate.position, op: "WHERE")
            }
            return .boolean
        case .reduce(let acc, let initial, let v, let source, let body):
            let it = try type(of: initial, scope: scope, context: context)
            let st = try type(of: source, scope: scope, context: context)
            var inner = scope
            inner[acc] = it == .null ? .any : .any
            inner[v] = elementType(st)
            var innerContext = context
            innerContext.aggregationAllowed = false
            innerContext.locals.formUnion([acc, v])
            try checkNoAggregate(body, what: "reduce")
            _ = try type(of: body, scope: inner, context: innerContext)
            return .any
        case .patternComprehension(let pathVariable, let pattern, let predicate, let projection):
            var inner = scope
            var rels: Set<String> = []
            try bindElement(pattern, scope: &inner, before: scope, relsInPattern: &rels,
                allowParameterMaps: true)
            if let pathVariable { inner[pathVariable] = .path }
            try patternExpressions(pattern, scope: inner)
            var innerContext = context
            innerContext.aggregationAllowed = false
            if let predicate {
                try checkNoAggregate(predicate, what: "pattern comprehension")
                _ = try type(of: predicate, scope: inner, context: booleanWhen(innerContext))
            }
            try checkNoAggregate(projection, what: "pattern comprehension")
            return .list(try type(of: projection, scope: inner, context: innerContext))
        case .mapProjection(let v, let items):
            guard let t = scope[v] else {
                throw compileError("Variable `\(v)` not defined", "UndefinedVariable", at: e.position)
            }
            switch t {
            case .integer, .float, .string, .boolean, .list, .path:
                throw compileError(
                    "Type mismatch: expected Map, Node or Relationship but was \(t.name)", "InvalidArgumentType",
                    at: e.position)
            default: break
            }
            for item in items {
                switch item {
                case .literal(_, let value):
                    _ = try type(of: value, scope: scope, context: context)
                case .variable(let name):
                    if scope[name] == nil {
                        throw compileError("Variable `\(name)` not defined", "UndefinedVariable", at: e.position)
                    }
                case .property, .allProperties:
                    break
                }
            }
            return .map
        case .patternExpression(let element):
            if !incoming.patternAllowed {
                throw compileError(
                    "A pattern expression can only be used as a predicate (use a pattern comprehension or EXISTS)",
                    "UnexpectedSyntax", at: e.position)
            }
            // Pattern predicates cannot introduce new variables.
            for node in element.nodes {
                if let v = node.variable, scope[v] == nil {
                    throw compileError(
                        "Variable `\(v)` not defined (patterns in expressions cannot introduce new variables)",
                        "UndefinedVariable", at: node.position)
                }
            }
            for rel in element.relationships {
                if let v = rel.variable, scope[v] == nil {
                    throw compileError(
                        "Variable `\(v)` not defined (patterns in expressions cannot introduce new variables)",
                        "UndefinedVariable", at: rel.position)
                }
            }
            try patternExpressions(element, scope: scope)
            // A list of paths, but also a predicate in WHERE: leave it untyped.
            return .any
        case .shortestPathExpression(let part):
            var inner = scope
            var rels: Set<String> = []
            try bindElement(part.element, scope: &inner, before: scope, relsInPattern: &rels,
                allowParameterMaps: true)
            return .path
        case .existsSubquery(let pattern, let predicate):
            var inner = scope
            try bindMatchPattern(pattern, scope: &inner, allowParameterMaps: true, clauseName: "EXISTS")
            if let predicate { try self.predicate(predicate, scope: inner) }
            return .boolean
        }
    }

    func booleanWhen(_ context: ExpressionContext) -> ExpressionContext {
        var c = context
        c.patternAllowed = true
        return c
    }

    func elementType(_ t: StaticType) -> StaticType {
        if case .list(let e) = t { return e }
        return .any
    }

    func requireBoolean(_ t: StaticType, at p: SourcePosition, op: String) throws {
        if t.isNonBoolean {
            throw compileError(
                "Type mismatch: expected Boolean but was \(t.name) (operand of \(op))", "InvalidArgumentType", at: p)
        }
    }

    func checkNoAggregate(_ e: Expression, what: String) throws {
        if let agg = firstAggregate(in: e) {
            throw compileError(
                "Can't use aggregating expressions inside of a \(what)", "InvalidAggregation", at: agg.position)
        }
    }

    func functionType(_ f: FunctionCall, e: Expression, scope: Scope, context: ExpressionContext) throws
        -> StaticType
    {
        let name = f.lookupName
        let isAggregate = f.namespace.isEmpty && aggregateFunctions.contains(name)
        if f.namespace.isEmpty && !knownFunctions.contains(name) {
            throw compileError("Unknown function '\(f.name)'", "UnknownFunction", at: e.position)
        }
        var argContext = context
        if isAggregate {
            if context.insideAggregate {
                throw compileError(
                    "Can't use aggregate functions inside of aggregate functions", "NestedAggregation",
                    at: e.position)
            }
            if !context.aggregationAllowed {
                throw compileError(
                    "Invalid use of aggregating function \(f.name)(...) in this context", "InvalidAggregation",
                    at: e.position)
            }
            for a in f.arguments {
                if let call = firstCall(in: a, where: { nonDeterministicFunctions.contains($0.lookupName) }) {
                    throw compileError(
                        "Can't use non-deterministic (random) functions inside of aggregate functions",
                        "NonConstantExpression", at: call)
                }
            }
            argContext.insideAggregate = true
        }
        if ["exists", "size", "isempty"].contains(name) { argContext.patternAllowed = true }
        var argTypes: [StaticType] = []
        for a in f.arguments { argTypes.append(try type(of: a, scope: scope, context: argContext)) }
        let first = argTypes.first
        switch name {
        case "properties":
            if let t = first {
                switch t {
                case .integer, .float, .string, .boolean, .list, .path:
                    throw compileError(
                        "Type mismatch: expected Map, Node or Relationship but was \(t.name)", "InvalidArgumentType",
                        at: f.arguments[0].position)
                default: break
                }
            }
            return .map
        case "length":
            if let t = first {
                switch t {
                case .node, .relationship, .integer, .float, .boolean, .map:
                    throw compileError(
                        "Type mismatch: expected Path but was \(t.name)", "InvalidArgumentType",
                        at: f.arguments[0].position)
                default: break
                }
            }
            return .integer
        case "count", "size", "id", "tointeger", "timestamp", "sign":
            return .integer
        case "tostring", "type", "tolower", "toupper", "trim", "ltrim", "rtrim", "substring", "replace", "left",
            "right", "randomuuid":
            return .string
        case "tofloat", "rand", "e", "pi", "sqrt", "exp", "log", "log10", "sin", "cos", "tan", "cot", "asin", "acos",
            "atan", "atan2", "degrees", "radians", "haversin", "avg", "stdev", "stdevp", "percentilecont":
            return .float
        case "toboolean", "exists", "isempty", "isnan":
            return .boolean
        case "collect", "keys", "labels", "range", "split", "tail":
            return .list(.any)
        case "nodes":
            return .list(.node)
        case "relationships":
            return .list(.relationship)
        case "startnode", "endnode":
            return .node
        default:
            return .any
        }
    }
}

// MARK: - Expression utilities

extension ExpressionKind {
    /// Variables a comprehension/quantifier/reduce introduces for its sub-expressions.
    var introducedVariables: Set<String> {
        switch self {
        case .listComprehension(let v, _, _, _), .quantified(_, let v, _, _): return [v]
        case .reduce(let acc, _, let v, _, _): return [acc, v]
        default: return []
        }
    }
}

extension Expression {
    /// Direct sub-expressions (patterns' property maps included).
    var children: [Expression] {
        switch kind {
        case .literal, .parameter, .variable, .countStar: return []
        case .property(let b, _): return [b]
        case .list(let items): return items
        case .map(let entries): return entries.map(\.value)
        case .index(let a, let b): return [a, b]
        case .slice(let a, let from, let to): return [a] + [from, to].compactMap { $0 }
        case .unary(_, let a): return [a]
        case .binary(_, let a, let b): return [a, b]
        case .isNull(let a), .isNotNull(let a), .hasLabels(let a, _): return [a]
        case .function(let f): return f.arguments
        case .caseExpression(let s, let alts, let d):
            return [s].compactMap { $0 } + alts.flatMap { [$0.when, $0.then] } + [d].compactMap { $0 }
        case .listComprehension(_, let s, let p, let proj): return [s] + [p, proj].compactMap { $0 }
        case .patternComprehension(_, let pattern, let p, let proj):
            return pattern.propertyExpressions + [p].compactMap { $0 } + [proj]
        case .quantified(_, _, let s, let p): return [s] + [p].compactMap { $0 }
        case .reduce(_, let i, _, let s, let b): return [i, s, b]
        case .mapProjection(_, let items):
            return items.compactMap {
                if case .literal(_, let v) = $0 { return v }
                return nil
            }
        case .patternExpression(let element): return element.propertyExpressions
        case .shortestPathExpression(let part): return part.element.propertyExpressions
        case .existsSubquery(let pattern, let p):
            return pattern.parts.flatMap(\.element.propertyExpressions) + [p].compactMap { $0 }
        }
    }

    /// Rebuilds the expression with `transform` applied to the direct children that `children` lists for the
    /// simple (non-scoping) kinds; scoping kinds are returned unchanged.
    func mapChildren(_ transform: (Expression) -> Expression) -> Expression {
        let k: ExpressionKind
        switch kind {
        case .property(let b, let key): k = .property(transform(b), key)
        case .list(let items): k = .list(items.map(transform))
        case .map(let entries): k = .map(entries.map { MapEntry(key: $0.key, value: transform($0.value)) })
        case .index(let a, let b): k = .index(transform(a), transform(b))
        case .slice(let a, let from, let to): k = .slice(transform(a), from: from.map(transform), to: to.map(transform))
        case .unary(let op, let a): k = .unary(op, transform(a))
        case .binary(let op, let a, let b): k = .binary(op, transform(a), transform(b))
        case .isNull(let a): k = .isNull(transform(a))
        case .isNotNull(let a): k = .isNotNull(transform(a))
        case .hasLabels(let a, let l): k = .hasLabels(transform(a), l)
        case .function(var f):
            f.arguments = f.arguments.map(transform)
            k = .function(f)
        case .caseExpression(let s, let alts, let d):
            k = .caseExpression(
                subject: s.map(transform),
                alternatives: alts.map { CaseAlternative(when: transform($0.when), then: transform($0.then)) },
                defaultValue: d.map(transform))
        default:
            return self
        }
        return Expression(k, at: position)
    }
}

extension PatternElement {
    var propertyExpressions: [Expression] {
        nodes.flatMap { [$0.properties, $0.predicate].compactMap { $0 } }
            + relationships.flatMap { [$0.properties, $0.predicate].compactMap { $0 } }
    }
}

/// Structural equality ignoring source positions.
func sameExpression(_ a: Expression, _ b: Expression) -> Bool {
    stripPositions(a) == stripPositions(b)
}

private func stripPositions(_ e: Expression) -> Expression {
    var copy = e.mapChildren(stripPositions)
    copy.position = .start
    return copy
}

private func isAggregateCall(_ e: Expression) -> Bool {
    switch e.kind {
    case .countStar: return true
    case .function(let f): return f.namespace.isEmpty && aggregateFunctions.contains(f.name.lowercased())
    default: return false
    }
}

func firstAggregate(in e: Expression) -> Expression? {
    if isAggregateCall(e) { return e }
    for child in e.children {
        if let found = firstAggregate(in: child) { return found }
    }
    return nil
}

func containsAggregate(_ e: Expression) -> Bool { firstAggregate(in: e) != nil }

private func firstCall(in e: Expression, where predicate: (FunctionCall) -> Bool) -> SourcePosition? {
    if case .function(let f) = e.kind, predicate(f) { return e.position }
    for child in e.children {
        if let p = firstCall(in: child, where: predicate) { return p }
    }
    return nil
}

/// The first variable referenced in `e` that is not introduced inside it.
func firstVariable(in e: Expression, locals: Set<String> = []) -> String? {
    if case .variable(let v) = e.kind, !locals.contains(v) { return v }
    if case .mapProjection(let v, _) = e.kind, !locals.contains(v) { return v }
    let inner = locals.union(e.kind.introducedVariables)
    for child in e.children {
        if let v = firstVariable(in: child, locals: inner) { return v }
    }
    return nil
}

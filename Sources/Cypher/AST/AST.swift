import GraphValues

// The Cypher abstract syntax tree, as produced by `CypherParser.parse` and checked by `SemanticAnalyzer.analyze`.
//
// Shape notes for the planner:
// - Every node carries the `SourcePosition` of its first token, so runtime errors can point into the query.
// - Expressions are a struct (`Expression`) wrapping an indirect enum (`ExpressionKind`) plus a position; switch on
//   `expr.kind`.
// - Chained comparisons `a < b < c` are desugared by the parser into `a < b AND b < c` (openCypher semantics).
// - Legacy `{p}` parameters become `.parameter("p")` exactly like `$p`.
// - A standalone `CALL proc` (the whole statement is one CALL) has `ProcedureCall.isStandalone == true`.
// - All AST types are `Hashable`, so a statement can be a cache key and tests can compare trees.

// MARK: - Positions

/// A place in the query text: `offset` counts Unicode scalars from 0; `line` and `column` count from 1
/// (as in Neo4j's "(line 1, column 8 (offset: 7))").
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    public static let start = SourcePosition(offset: 0, line: 1, column: 1)

    /// Neo4j's wording: `line 1, column 8 (offset: 7)`.
    public var description: String { "line \(line), column \(column) (offset: \(offset))" }
}

// MARK: - Statements

/// One statement as sent by a client.
public struct Statement: Sendable, Hashable {
    /// Whether the statement only plans (`EXPLAIN`), plans and profiles (`PROFILE`), or simply runs.
    public enum Mode: Sendable, Hashable {
        case normal
        case explain
        case profile
    }

    public enum Kind: Sendable, Hashable {
        /// A (possibly UNION-ed) query, including standalone `CALL proc(...)`.
        case query(Query)
        /// Index/constraint DDL and `SHOW INDEXES`/`SHOW CONSTRAINTS`.
        case schema(SchemaCommand)
    }

    public var mode: Mode
    public var kind: Kind
    public var position: SourcePosition

    public init(mode: Mode = .normal, kind: Kind, position: SourcePosition = .start) {
        self.mode = mode
        self.kind = kind
        self.position = position
    }
}

/// `USING PERIODIC COMMIT [n]` (3.x, only valid before LOAD CSV).
public struct PeriodicCommitHint: Sendable, Hashable {
    public var batchSize: Int64?
    public var position: SourcePosition

    public init(batchSize: Int64?, position: SourcePosition) {
        self.batchSize = batchSize
        self.position = position
    }
}

/// A query: one single query, possibly followed by `UNION [ALL]` parts.
public struct Query: Sendable, Hashable {
    public var periodicCommit: PeriodicCommitHint?
    public var first: SingleQuery
    public var unions: [UnionPart]
    public var position: SourcePosition

    public init(
        periodicCommit: PeriodicCommitHint? = nil, first: SingleQuery, unions: [UnionPart] = [],
        position: SourcePosition
    ) {
        self.periodicCommit = periodicCommit
        self.first = first
        self.unions = unions
        self.position = position
    }

    /// All single queries in order (the first, then every UNION part).
    public var singleQueries: [SingleQuery] { [first] + unions.map(\.query) }
}

/// `UNION [ALL] <single query>`.
public struct UnionPart: Sendable, Hashable {
    public var all: Bool
    public var query: SingleQuery
    public var position: SourcePosition

    public init(all: Bool, query: SingleQuery, position: SourcePosition) {
        self.all = all
        self.query = query
        self.position = position
    }
}

/// A sequence of clauses (a query without UNION).
public struct SingleQuery: Sendable, Hashable {
    public var clauses: [Clause]
    public var position: SourcePosition

    public init(clauses: [Clause], position: SourcePosition) {
        self.clauses = clauses
        self.position = position
    }
}

// MARK: - Clauses

public enum Clause: Sendable, Hashable {
    case match(MatchClause)
    case create(CreateClause)
    case merge(MergeClause)
    case set(SetClause)
    case remove(RemoveClause)
    case delete(DeleteClause)
    case with(WithClause)
    case `return`(ReturnClause)
    case unwind(UnwindClause)
    case foreach(ForeachClause)
    case call(ProcedureCall)
    case loadCSV(LoadCSVClause)
    /// `CALL { … }` (4.x subquery).
    case subquery(SubqueryClause)

    public var position: SourcePosition {
        switch self {
        case .match(let c): return c.position
        case .create(let c): return c.position
        case .merge(let c): return c.position
        case .set(let c): return c.position
        case .remove(let c): return c.position
        case .delete(let c): return c.position
        case .with(let c): return c.position
        case .return(let c): return c.position
        case .unwind(let c): return c.position
        case .foreach(let c): return c.position
        case .call(let c): return c.position
        case .loadCSV(let c): return c.position
        case .subquery(let c): return c.position
        }
    }

    /// The clause keyword as written in error messages (`MATCH`, `OPTIONAL MATCH`, `RETURN`, …).
    public var name: String {
        switch self {
        case .match(let c): return c.optional ? "OPTIONAL MATCH" : "MATCH"
        case .create: return "CREATE"
        case .merge: return "MERGE"
        case .set: return "SET"
        case .remove: return "REMOVE"
        case .delete(let c): return c.detach ? "DETACH DELETE" : "DELETE"
        case .with: return "WITH"
        case .return: return "RETURN"
        case .unwind: return "UNWIND"
        case .foreach: return "FOREACH"
        case .call: return "CALL"
        case .loadCSV: return "LOAD CSV"
        case .subquery: return "CALL"
        }
    }
}

/// Planner hints after a MATCH pattern.
public enum MatchHint: Sendable, Hashable {
    /// `USING INDEX [SEEK] n:Label(prop, …)`
    case index(variable: String, label: String, properties: [String], seek: Bool, position: SourcePosition)
    /// `USING SCAN n:Label`
    case scan(variable: String, label: String, position: SourcePosition)
    /// `USING JOIN ON a, b`
    case join(variables: [String], position: SourcePosition)
}

/// `[OPTIONAL] MATCH pattern [USING …] [WHERE expr]`.
public struct MatchClause: Sendable, Hashable {
    public var optional: Bool
    public var pattern: Pattern
    public var hints: [MatchHint]
    public var whereClause: Expression?
    public var position: SourcePosition

    public init(
        optional: Bool, pattern: Pattern, hints: [MatchHint] = [], whereClause: Expression?,
        position: SourcePosition
    ) {
        self.optional = optional
        self.pattern = pattern
        self.hints = hints
        self.whereClause = whereClause
        self.position = position
    }
}

/// `CREATE pattern`.
public struct CreateClause: Sendable, Hashable {
    public var pattern: Pattern
    public var position: SourcePosition

    public init(pattern: Pattern, position: SourcePosition) {
        self.pattern = pattern
        self.position = position
    }
}

/// `ON CREATE SET …` / `ON MATCH SET …` after MERGE.
public struct MergeAction: Sendable, Hashable {
    public enum Trigger: Sendable, Hashable {
        case onCreate
        case onMatch
    }

    public var trigger: Trigger
    public var items: [SetItem]
    public var position: SourcePosition

    public init(trigger: Trigger, items: [SetItem], position: SourcePosition) {
        self.trigger = trigger
        self.items = items
        self.position = position
    }
}

/// `MERGE patternPart [ON CREATE SET …] [ON MATCH SET …]`.
public struct MergeClause: Sendable, Hashable {
    public var pattern: PatternPart
    public var actions: [MergeAction]
    public var position: SourcePosition

    public init(pattern: PatternPart, actions: [MergeAction], position: SourcePosition) {
        self.pattern = pattern
        self.actions = actions
        self.position = position
    }
}

/// One item of SET (also used by MERGE actions).
public enum SetItem: Sendable, Hashable {
    /// `SET entity.key = value` (`entity` is usually a variable but may be any expression, e.g. `(n).key`).
    case property(entity: Expression, key: String, value: Expression, position: SourcePosition)
    /// `SET n = {map}` / `SET n = m`: replace all properties.
    case replaceProperties(variable: String, value: Expression, position: SourcePosition)
    /// `SET n += {map}`: merge properties.
    case mergeProperties(variable: String, value: Expression, position: SourcePosition)
    /// `SET n:A:B`.
    case labels(variable: String, labels: [String], position: SourcePosition)

    public var position: SourcePosition {
        switch self {
        case .property(_, _, _, let p), .replaceProperties(_, _, let p), .mergeProperties(_, _, let p),
            .labels(_, _, let p):
            return p
        }
    }
}

/// `SET item, …`.
public struct SetClause: Sendable, Hashable {
    public var items: [SetItem]
    public var position: SourcePosition

    public init(items: [SetItem], position: SourcePosition) {
        self.items = items
        self.position = position
    }
}

/// One item of REMOVE.
public enum RemoveItem: Sendable, Hashable {
    /// `REMOVE entity.key`.
    case property(entity: Expression, key: String, position: SourcePosition)
    /// `REMOVE n:A:B`.
    case labels(variable: String, labels: [String], position: SourcePosition)

    public var position: SourcePosition {
        switch self {
        case .property(_, _, let p), .labels(_, _, let p): return p
        }
    }
}

/// `REMOVE item, …`.
public struct RemoveClause: Sendable, Hashable {
    public var items: [RemoveItem]
    public var position: SourcePosition

    public init(items: [RemoveItem], position: SourcePosition) {
        self.items = items
        self.position = position
    }
}

/// `[DETACH] DELETE expr, …`.
public struct DeleteClause: Sendable, Hashable {
    public var detach: Bool
    public var expressions: [Expression]
    public var position: SourcePosition

    public init(detach: Bool, expressions: [Expression], position: SourcePosition) {
        self.detach = detach
        self.expressions = expressions
        self.position = position
    }
}

/// One projected item: `expression [AS alias]`.
public struct ReturnItem: Sendable, Hashable {
    public var expression: Expression
    /// The explicit alias, if any.
    public var alias: String?
    /// The column name: the alias, or the expression's source text as written (Neo4j names unaliased columns
    /// after their text, e.g. `n.name`, `count(*)`).
    public var name: String
    public var position: SourcePosition

    public init(expression: Expression, alias: String?, name: String, position: SourcePosition) {
        self.expression = expression
        self.alias = alias
        self.name = name
        self.position = position
    }
}

/// `expr [ASC|DESC]`.
public struct SortItem: Sendable, Hashable {
    public var expression: Expression
    public var ascending: Bool
    public var position: SourcePosition

    public init(expression: Expression, ascending: Bool, position: SourcePosition) {
        self.expression = expression
        self.ascending = ascending
        self.position = position
    }
}

/// What WITH and RETURN share: `[DISTINCT] [*,] items [ORDER BY …] [SKIP n] [LIMIT n]`.
public struct ProjectionBody: Sendable, Hashable {
    public var distinct: Bool
    /// `*`: project every variable in scope (before `items`).
    public var includeExisting: Bool
    public var items: [ReturnItem]
    public var orderBy: [SortItem]
    public var skip: Expression?
    public var limit: Expression?

    public init(
        distinct: Bool = false, includeExisting: Bool = false, items: [ReturnItem], orderBy: [SortItem] = [],
        skip: Expression? = nil, limit: Expression? = nil
    ) {
        self.distinct = distinct
        self.includeExisting = includeExisting
        self.items = items
        self.orderBy = orderBy
        self.skip = skip
        self.limit = limit
    }
}

/// `WITH projection [WHERE expr]`.
public struct WithClause: Sendable, Hashable {
    public var projection: ProjectionBody
    public var whereClause: Expression?
    public var position: SourcePosition

    public init(projection: ProjectionBody, whereClause: Expression?, position: SourcePosition) {
        self.projection = projection
        self.whereClause = whereClause
        self.position = position
    }
}

/// `RETURN projection`.
public struct ReturnClause: Sendable, Hashable {
    public var projection: ProjectionBody
    public var position: SourcePosition

    public init(projection: ProjectionBody, position: SourcePosition) {
        self.projection = projection
        self.position = position
    }
}

/// `UNWIND expr AS variable`.
public struct UnwindClause: Sendable, Hashable {
    public var expression: Expression
    public var variable: String
    public var position: SourcePosition

    public init(expression: Expression, variable: String, position: SourcePosition) {
        self.expression = expression
        self.variable = variable
        self.position = position
    }
}

/// `FOREACH (variable IN list | updating clauses)`.
public struct ForeachClause: Sendable, Hashable {
    public var variable: String
    public var list: Expression
    public var clauses: [Clause]
    public var position: SourcePosition

    public init(variable: String, list: Expression, clauses: [Clause], position: SourcePosition) {
        self.variable = variable
        self.list = list
        self.clauses = clauses
        self.position = position
    }
}

/// `YIELD name [AS alias]`.
public struct YieldItem: Sendable, Hashable {
    public var name: String
    public var alias: String?
    public var position: SourcePosition

    /// The variable the item binds.
    public var variable: String { alias ?? name }

    public init(name: String, alias: String?, position: SourcePosition) {
        self.name = name
        self.alias = alias
        self.position = position
    }
}

/// `CALL ns.name(args) [YIELD items [WHERE expr]]`.
public struct ProcedureCall: Sendable, Hashable {
    /// Namespace parts, e.g. `["db"]` for `db.labels`.
    public var namespace: [String]
    public var name: String
    /// nil when called without parentheses (standalone only: arguments then come from same-named parameters).
    public var arguments: [Expression]?
    /// nil when there is no YIELD clause.
    public var yieldItems: [YieldItem]?
    /// `YIELD *` (standalone only).
    public var yieldAll: Bool
    public var whereClause: Expression?
    /// True when the CALL is the whole statement (then it may omit YIELD and return every output column).
    public var isStandalone: Bool
    public var position: SourcePosition

    /// `db.labels`.
    public var qualifiedName: String { (namespace + [name]).joined(separator: ".") }

    public init(
        namespace: [String], name: String, arguments: [Expression]?, yieldItems: [YieldItem]?, yieldAll: Bool = false,
        whereClause: Expression? = nil, isStandalone: Bool, position: SourcePosition
    ) {
        self.namespace = namespace
        self.name = name
        self.arguments = arguments
        self.yieldItems = yieldItems
        self.yieldAll = yieldAll
        self.whereClause = whereClause
        self.isStandalone = isStandalone
        self.position = position
    }
}

/// `LOAD CSV [WITH HEADERS] FROM url AS variable [FIELDTERMINATOR 'c']`.
public struct LoadCSVClause: Sendable, Hashable {
    public var withHeaders: Bool
    public var url: Expression
    public var variable: String
    public var fieldTerminator: String?
    public var position: SourcePosition

    public init(
        withHeaders: Bool, url: Expression, variable: String, fieldTerminator: String?, position: SourcePosition
    ) {
        self.withHeaders = withHeaders
        self.url = url
        self.variable = variable
        self.fieldTerminator = fieldTerminator
        self.position = position
    }
}

/// `CALL { query }` (4.x).
public struct SubqueryClause: Sendable, Hashable {
    public var query: Query
    public var position: SourcePosition

    public init(query: Query, position: SourcePosition) {
        self.query = query
        self.position = position
    }
}

// MARK: - Patterns

/// A comma-separated list of pattern parts.
public struct Pattern: Sendable, Hashable {
    public var parts: [PatternPart]
    public var position: SourcePosition

    public init(parts: [PatternPart], position: SourcePosition) {
        self.parts = parts
        self.position = position
    }
}

/// `[p =] element`, `[p =] shortestPath(element)`, `[p =] allShortestPaths(element)`.
public struct PatternPart: Sendable, Hashable {
    public enum Selector: Sendable, Hashable {
        case all
        case shortestPath
        case allShortestPaths
    }

    /// The named path variable (`p` in `p = (a)-->(b)`).
    public var variable: String?
    public var selector: Selector
    public var element: PatternElement
    public var position: SourcePosition

    public init(variable: String?, selector: Selector = .all, element: PatternElement, position: SourcePosition) {
        self.variable = variable
        self.selector = selector
        self.element = element
        self.position = position
    }
}

/// A chain `(n0)-[r0]-(n1)-[r1]-(n2)…`: `nodes.count == relationships.count + 1`; relationship `i` connects
/// `nodes[i]` and `nodes[i + 1]`.
public struct PatternElement: Sendable, Hashable {
    public var nodes: [NodePattern]
    public var relationships: [RelationshipPattern]
    public var position: SourcePosition

    public init(nodes: [NodePattern], relationships: [RelationshipPattern], position: SourcePosition) {
        precondition(nodes.count == relationships.count + 1, "pattern element needs one more node than rels")
        self.nodes = nodes
        self.relationships = relationships
        self.position = position
    }
}

/// `(variable:Label1:Label2 {props})`.
public struct NodePattern: Sendable, Hashable {
    public var variable: String?
    public var labels: [String]
    /// A map literal or a parameter.
    public var properties: Expression?
    /// `(n WHERE …)` inline predicate (Cypher 5).
    public var predicate: Expression?
    public var position: SourcePosition

    public init(
        variable: String?, labels: [String] = [], properties: Expression? = nil, predicate: Expression? = nil,
        position: SourcePosition
    ) {
        self.variable = variable
        self.labels = labels
        self.properties = properties
        self.predicate = predicate
        self.position = position
    }
}

public enum RelationshipDirection: Sendable, Hashable {
    /// `-->`: from the left node to the right node.
    case outgoing
    /// `<--`: from the right node to the left node.
    case incoming
    /// `--` (or `<-->`): either direction.
    case both
}

/// `*`, `*2`, `*1..3`, `*..3`, `*2..`: nil bounds are open (min defaults to 1 at runtime, max to unbounded).
public struct VariableLength: Sendable, Hashable {
    public var minimum: Int64?
    public var maximum: Int64?

    public init(minimum: Int64?, maximum: Int64?) {
        self.minimum = minimum
        self.maximum = maximum
    }
}

/// `-[variable:T1|T2 *min..max {props}]->`.
public struct RelationshipPattern: Sendable, Hashable {
    public var variable: String?
    /// Alternatives (`:A|B` or the legacy `:A|:B`); empty means any type.
    public var types: [String]
    public var direction: RelationshipDirection
    /// nil for a single hop.
    public var length: VariableLength?
    public var properties: Expression?
    public var predicate: Expression?
    public var position: SourcePosition

    public init(
        variable: String?, types: [String] = [], direction: RelationshipDirection, length: VariableLength? = nil,
        properties: Expression? = nil, predicate: Expression? = nil, position: SourcePosition
    ) {
        self.variable = variable
        self.types = types
        self.direction = direction
        self.length = length
        self.properties = properties
        self.predicate = predicate
        self.position = position
    }
}

// MARK: - Expressions

/// An expression and where it starts in the query.
public struct Expression: Sendable, Hashable {
    public var kind: ExpressionKind
    public var position: SourcePosition

    public init(_ kind: ExpressionKind, at position: SourcePosition) {
        self.kind = kind
        self.position = position
    }
}

public enum UnaryOperator: String, Sendable, Hashable {
    case not = "NOT"
    case negate = "-"
    case plus = "+"
}

public enum BinaryOperator: String, Sendable, Hashable {
    case or = "OR"
    case xor = "XOR"
    case and = "AND"
    case equal = "="
    case notEqual = "<>"
    case lessThan = "<"
    case greaterThan = ">"
    case lessThanOrEqual = "<="
    case greaterThanOrEqual = ">="
    case startsWith = "STARTS WITH"
    case endsWith = "ENDS WITH"
    case contains = "CONTAINS"
    case `in` = "IN"
    case regexMatch = "=~"
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case modulo = "%"
    case power = "^"
}

/// `all`, `any`, `none`, `single` list predicates.
public enum Quantifier: String, Sendable, Hashable {
    case all
    case any
    case none
    case single
}

/// `key: value` in a map literal (order kept as written).
public struct MapEntry: Sendable, Hashable {
    public var key: String
    public var value: Expression

    public init(key: String, value: Expression) {
        self.key = key
        self.value = value
    }
}

/// `WHEN condition THEN result`.
public struct CaseAlternative: Sendable, Hashable {
    public var when: Expression
    public var then: Expression

    public init(when: Expression, then: Expression) {
        self.when = when
        self.then = then
    }
}

/// One element of a map projection `n { .name, .*, alias: expr, var }`.
public enum MapProjectionItem: Sendable, Hashable {
    /// `.key`
    case property(String)
    /// `key: expression`
    case literal(key: String, value: Expression)
    /// `variable` (key is the variable name)
    case variable(String)
    /// `.*`
    case allProperties
}

/// `ns.name([DISTINCT] args)`.
public struct FunctionCall: Sendable, Hashable {
    public var namespace: [String]
    public var name: String
    public var distinct: Bool
    public var arguments: [Expression]

    /// Lower-cased dotted name for lookups (`"tolower"`, `"date.truncate"`); Cypher function names are
    /// case-insensitive.
    public var lookupName: String { (namespace + [name]).joined(separator: ".").lowercased() }
    /// Dotted name as written.
    public var qualifiedName: String { (namespace + [name]).joined(separator: ".") }

    public init(namespace: [String] = [], name: String, distinct: Bool = false, arguments: [Expression]) {
        self.namespace = namespace
        self.name = name
        self.distinct = distinct
        self.arguments = arguments
    }
}

public indirect enum ExpressionKind: Sendable, Hashable {
    /// null, boolean, integer, float or string literal.
    case literal(Value)
    /// `$name`, `$0`, or legacy `{name}`.
    case parameter(String)
    case variable(String)
    /// `expr.key`
    case property(Expression, String)
    /// `[a, b, c]`
    case list([Expression])
    /// `{k: v, …}`
    case map([MapEntry])
    /// `expr[index]`
    case index(Expression, Expression)
    /// `expr[from..to]` (either bound may be absent).
    case slice(Expression, from: Expression?, to: Expression?)
    case unary(UnaryOperator, Expression)
    case binary(BinaryOperator, Expression, Expression)
    /// `expr IS NULL`
    case isNull(Expression)
    /// `expr IS NOT NULL`
    case isNotNull(Expression)
    /// `n:A:B` (true when the node has all the labels, or the relationship has one of the types).
    case hasLabels(Expression, [String])
    /// `count(*)`
    case countStar
    case function(FunctionCall)
    /// `CASE [subject] WHEN … THEN … [ELSE …] END`
    case caseExpression(subject: Expression?, alternatives: [CaseAlternative], defaultValue: Expression?)
    /// `[x IN list [WHERE pred] [| projection]]`
    case listComprehension(variable: String, source: Expression, predicate: Expression?, projection: Expression?)
    /// `[p = (a)-->(b) [WHERE pred] | projection]`
    case patternComprehension(
        pathVariable: String?, pattern: PatternElement, predicate: Expression?, projection: Expression)
    /// `all(x IN list WHERE pred)` and friends.
    case quantified(Quantifier, variable: String, source: Expression, predicate: Expression?)
    /// `reduce(acc = init, x IN list | expr)`
    case reduce(accumulator: String, initial: Expression, variable: String, source: Expression, body: Expression)
    /// `n { .name, k: v, .* }`
    case mapProjection(variable: String, items: [MapProjectionItem])
    /// A relationship pattern used as an expression: `(a)-[:T]->()` in WHERE (a predicate) or RETURN (list of paths).
    case patternExpression(PatternElement)
    /// `shortestPath((a)-[*]-(b))` / `allShortestPaths(…)` used as an expression.
    case shortestPathExpression(PatternPart)
    /// `EXISTS { MATCH pattern [WHERE pred] }` or `EXISTS { pattern [WHERE pred] }`.
    case existsSubquery(pattern: Pattern, predicate: Expression?)
}

extension Expression {
    /// Convenience for building trees in tests and rewrites.
    public static func literal(_ value: Value, at position: SourcePosition = .start) -> Expression {
        Expression(.literal(value), at: position)
    }

    public static func variable(_ name: String, at position: SourcePosition = .start) -> Expression {
        Expression(.variable(name), at: position)
    }
}

// MARK: - Schema commands

/// What an index or constraint is defined over.
public enum SchemaEntity: Sendable, Hashable {
    case node(label: String)
    case relationship(type: String)
}

/// Kinds of index in the 4.x/5 syntax (`CREATE [RANGE|TEXT|POINT|LOOKUP|FULLTEXT|BTREE] INDEX …`).
public enum IndexKind: String, Sendable, Hashable {
    case `default`
    case btree
    case range
    case text
    case point
    case lookup
    case fulltext
}

public enum ConstraintKind: Sendable, Hashable {
    /// `IS UNIQUE`
    case unique
    /// `IS NODE KEY`
    case nodeKey
    /// `exists(n.p)` (3.x) / `IS NOT NULL` (4.x/5)
    case propertyExists
}

/// The `SHOW …` commands.
public enum ShowKind: Sendable, Hashable {
    case indexes
    case constraints
}

public enum SchemaCommand: Sendable, Hashable {
    /// `CREATE INDEX ON :L(p, …)` (3.x) or `CREATE [kind] INDEX [name] [IF NOT EXISTS] FOR (n:L) ON (n.p, …)`.
    case createIndex(
        name: String?, kind: IndexKind, entity: SchemaEntity, properties: [String], ifNotExists: Bool,
        position: SourcePosition)
    /// `DROP INDEX ON :L(p, …)` (3.x).
    case dropIndexOn(entity: SchemaEntity, properties: [String], position: SourcePosition)
    /// `DROP INDEX name [IF EXISTS]`.
    case dropIndex(name: String, ifExists: Bool, position: SourcePosition)
    /// `CREATE CONSTRAINT [name] [IF NOT EXISTS] ON|FOR (n:L) ASSERT|REQUIRE n.p IS UNIQUE` and friends.
    case createConstraint(
        name: String?, kind: ConstraintKind, entity: SchemaEntity, properties: [String], ifNotExists: Bool,
        position: SourcePosition)
    /// `DROP CONSTRAINT ON (n:L) ASSERT …` (3.x).
    case dropConstraintOn(
        kind: ConstraintKind, entity: SchemaEntity, properties: [String], position: SourcePosition)
    /// `DROP CONSTRAINT name [IF EXISTS]`.
    case dropConstraint(name: String, ifExists: Bool, position: SourcePosition)
    /// `SHOW [ALL|…] INDEXES|CONSTRAINTS [YIELD …] [WHERE …]`: `filter` is the optional type word (ALL, UNIQUE, …),
    /// `yieldItems` nil means the default columns.
    case show(
        ShowKind, filter: String?, yieldItems: [YieldItem]?, yieldAll: Bool, whereClause: Expression?,
        position: SourcePosition)
}

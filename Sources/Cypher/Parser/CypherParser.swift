import GraphValues

/// Entry point of the Cypher front end: text → `Statement`.
///
/// A hand-written recursive-descent parser over the tokens of `Lexer`. Operator precedence follows openCypher 9,
/// from loosest to tightest: OR < XOR < AND < NOT < comparison (chained, desugared to AND) < string/list/null
/// predicates (STARTS WITH, ENDS WITH, CONTAINS, IN, =~, IS [NOT] NULL) < `+ -` < `* / %` < `^` (left-assoc)
/// < unary `+ -` < postfix (property, index, slice, label test).
public enum CypherParser {
    /// Parses one statement.
    ///
    /// - Throws: `DatabaseError(.syntaxError, …)` whose message ends with the position of the offending token,
    ///   in Neo4j's wording: `… (line 1, column 8 (offset: 7))`.
    public static func parse(_ query: String) throws -> Statement {
        var parser = try Parser(query)
        return try parser.parseStatement()
    }

    /// Parses a standalone expression (used by tests and by tools that evaluate expressions).
    public static func parseExpression(_ text: String) throws -> Expression {
        var parser = try Parser(text)
        let e = try parser.expression()
        try parser.expectEnd()
        return e
    }
}

/// Words that end an expression or start a clause, so they are never read as variable names.
private let reservedWords: Set<String> = [
    "MATCH", "OPTIONAL", "WHERE", "RETURN", "WITH", "UNWIND", "CREATE", "MERGE", "SET", "REMOVE", "DELETE",
    "DETACH", "ORDER", "BY", "SKIP", "LIMIT", "UNION", "CALL", "YIELD", "AND", "OR", "XOR", "NOT", "AS", "IN",
    "STARTS", "ENDS", "CONTAINS", "IS", "DISTINCT", "ASC", "DESC", "ASCENDING", "DESCENDING", "CASE", "WHEN", "THEN",
    "ELSE", "END", "ON", "FOREACH", "LOAD", "USING", "FROM", "NULL", "TRUE", "FALSE",
]

struct Parser {
    let tokens: [Token]
    let scalars: [Unicode.Scalar]
    var index = 0
    /// Current expression nesting plus the length of the operator chain being built: the depth of the tree so far.
    /// Bounded so that hostile input cannot exhaust the stack of later recursive passes (analysis, planning).
    var depth = 0
    static let maximumDepth = 250

    init(_ text: String) throws {
        tokens = try Lexer.tokenize(text)
        scalars = Array(text.unicodeScalars)
    }

    // MARK: - Token helpers

    var current: Token { tokens[index] }
    func peekToken(_ ahead: Int = 1) -> Token { tokens[min(index + ahead, tokens.count - 1)] }
    var position: SourcePosition { current.position }

    mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    /// Offset just past the last consumed token.
    var previousEnd: Int { index > 0 ? tokens[index - 1].endOffset : 0 }

    func text(from start: Int, to end: Int) -> String {
        guard start < end, end <= scalars.count else { return "" }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[start..<end])
        return String(s)
    }

    func isKeyword(_ word: String) -> Bool { current.keyword == word }
    func isKeyword(_ word: String, ahead: Int) -> Bool { peekToken(ahead).keyword == word }
    func isSymbol(_ s: String) -> Bool { current.isSymbol(s) }

    mutating func acceptKeyword(_ word: String) -> Bool {
        if isKeyword(word) {
            advance()
            return true
        }
        return false
    }

    mutating func acceptSymbol(_ s: String) -> Bool {
        if isSymbol(s) {
            advance()
            return true
        }
        return false
    }

    mutating func expectKeyword(_ word: String) throws {
        guard acceptKeyword(word) else { throw unexpected(expected: "'\(word)'") }
    }

    mutating func expectSymbol(_ s: String) throws {
        guard acceptSymbol(s) else { throw unexpected(expected: "'\(s)'") }
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .end: return "end of input"
        case .identifier(let name, let quoted): return quoted ? "'`\(name)`'" : "'\(name)'"
        case .integer(let t): return "'\(t)'"
        case .float: return "'\(text(from: token.position.offset, to: token.endOffset))'"
        case .string: return "'\(text(from: token.position.offset, to: token.endOffset))'"
        case .symbol(let s): return "'\(s)'"
        }
    }

    func error(_ message: String, at position: SourcePosition) -> DatabaseError {
        Lexer.syntaxError(message, at: position, in: scalars)
    }

    func unexpected(expected: String) -> DatabaseError {
        let what = current.isEnd ? "Unexpected end of input" : "Invalid input \(describe(current))"
        return error("\(what): expected \(expected)", at: current.position)
    }

    mutating func expectEnd() throws {
        guard current.isEnd else { throw unexpected(expected: "end of input") }
    }

    /// Any name (keywords allowed): labels, relationship types, property keys, map keys, function names.
    mutating func symbolicName(_ what: String = "an identifier") throws -> String {
        if case .identifier(let name, _) = current.kind {
            advance()
            return name
        }
        throw unexpected(expected: what)
    }

    /// A variable name: reserved words are not allowed unless quoted.
    mutating func variableName() throws -> String {
        if case .identifier(let name, let quoted) = current.kind, quoted || !reservedWords.contains(name.uppercased())
        {
            advance()
            return name
        }
        throw unexpected(expected: "a variable name")
    }

    var atVariableName: Bool {
        if case .identifier(let name, let quoted) = current.kind {
            return quoted || !reservedWords.contains(name.uppercased())
        }
        return false
    }

    // MARK: - Statements

    mutating func parseStatement() throws -> Statement {
        let start = position
        var mode = Statement.Mode.normal
        if acceptKeyword("EXPLAIN") {
            mode = .explain
        } else if acceptKeyword("PROFILE") {
            mode = .profile
        }
        let kind: Statement.Kind
        if let schema = try schemaCommand() {
            kind = .schema(schema)
        } else {
            kind = .query(try query(topLevel: true))
        }
        _ = acceptSymbol(";")
        try expectEnd()
        return Statement(mode: mode, kind: kind, position: start)
    }

    mutating func query(topLevel: Bool) throws -> Query {
        let start = position
        var periodic: PeriodicCommitHint?
        if topLevel && isKeyword("USING") && isKeyword("PERIODIC", ahead: 1) {
            let p = position
            advance()
            advance()
            try expectKeyword("COMMIT")
            var size: Int64?
            if case .integer = current.kind { size = try integerLiteral(negative: false) }
            periodic = PeriodicCommitHint(batchSize: size, position: p)
        }
        var first = try singleQuery()
        var unions: [UnionPart] = []
        while isKeyword("UNION") {
            let p = position
            advance()
            let all = acceptKeyword("ALL")
            unions.append(UnionPart(all: all, query: try singleQuery(), position: p))
        }
        // A statement that is exactly one CALL is a standalone procedure call.
        if topLevel && unions.isEmpty && first.clauses.count == 1, case .call(var call) = first.clauses[0] {
            call.isStandalone = true
            first.clauses[0] = .call(call)
        }
        return Query(periodicCommit: periodic, first: first, unions: unions, position: start)
    }

    mutating func singleQuery() throws -> SingleQuery {
        let start = position
        var clauses: [Clause] = []
        while let c = try clause() {
            clauses.append(c)
        }
        if clauses.isEmpty {
            throw unexpected(
                expected: "a clause (MATCH, OPTIONAL MATCH, WITH, RETURN, UNWIND, CREATE, MERGE, SET, REMOVE, "
                    + "DELETE, FOREACH, CALL, LOAD CSV)")
        }
        return SingleQuery(clauses: clauses, position: start)
    }

    /// Parses the next clause, or returns nil at the end of a single query (UNION, `}`, `)`, `;`, end).
    mutating func clause() throws -> Clause? {
        let start = position
        guard let word = current.keyword else {
            if current.isEnd || isSymbol(";") || isSymbol("}") || isSymbol(")") { return nil }
            throw unexpected(expected: "a clause")
        }
        switch word {
        case "MATCH":
            advance()
            return .match(try matchBody(optional: false, start: start))
        case "OPTIONAL":
            advance()
            try expectKeyword("MATCH")
            return .match(try matchBody(optional: true, start: start))
        case "UNWIND":
            advance()
            let e = try expression()
            try expectKeyword("AS")
            let v = try variableName()
            return .unwind(UnwindClause(expression: e, variable: v, position: start))
        case "WITH":
            advance()
            let body = try projectionBody()
            var whereClause: Expression?
            if acceptKeyword("WHERE") { whereClause = try expression() }
            return .with(WithClause(projection: body, whereClause: whereClause, position: start))
        case "RETURN":
            advance()
            return .return(ReturnClause(projection: try projectionBody(), position: start))
        case "CREATE":
            advance()
            return .create(CreateClause(pattern: try pattern(), position: start))
        case "MERGE":
            advance()
            let part = try patternPart()
            var actions: [MergeAction] = []
            while isKeyword("ON") {
                let p = position
                advance()
                let trigger: MergeAction.Trigger
                if acceptKeyword("CREATE") {
                    trigger = .onCreate
                } else if acceptKeyword("MATCH") {
                    trigger = .onMatch
                } else {
                    throw unexpected(expected: "'CREATE' or 'MATCH'")
                }
                try expectKeyword("SET")
                actions.append(MergeAction(trigger: trigger, items: try setItems(), position: p))
            }
            return .merge(MergeClause(pattern: part, actions: actions, position: start))
        case "SET":
            advance()
            return .set(SetClause(items: try setItems(), position: start))
        case "REMOVE":
            advance()
            return .remove(RemoveClause(items: try removeItems(), position: start))
        case "DELETE":
            advance()
            return .delete(DeleteClause(detach: false, expressions: try expressionList(), position: start))
        case "DETACH":
            advance()
            try expectKeyword("DELETE")
            return .delete(DeleteClause(detach: true, expressions: try expressionList(), position: start))
        case "FOREACH":
            advance()
            return .foreach(try foreachBody(start: start))
        case "CALL":
            advance()
            if isSymbol("{") {
                advance()
                let q = try query(topLevel: false)
                try expectSymbol("}")
                return .subquery(SubqueryClause(query: q, position: start))
            }
            return .call(try procedureCall(start: start))
        case "LOAD":
            advance()
            try expectKeyword("CSV")
            let headers = acceptKeyword("WITH")
            if headers { try expectKeyword("HEADERS") }
            try expectKeyword("FROM")
            let url = try expression()
            try expectKeyword("AS")
            let v = try variableName()
            var terminator: String?
            if acceptKeyword("FIELDTERMINATOR") {
                guard case .string(let s) = current.kind else { throw unexpected(expected: "a string") }
                advance()
                terminator = s
            }
            return .loadCSV(
                LoadCSVClause(withHeaders: headers, url: url, variable: v, fieldTerminator: terminator, position: start))
        case "UNION":
            return nil
        default:
            throw unexpected(
                expected: "a clause (MATCH, OPTIONAL MATCH, WITH, RETURN, UNWIND, CREATE, MERGE, SET, REMOVE, "
                    + "DELETE, FOREACH, CALL, LOAD CSV)")
        }
    }

    mutating func matchBody(optional: Bool, start: SourcePosition) throws -> MatchClause {
        let pat = try pattern()
        var hints: [MatchHint] = []
        while isKeyword("USING") {
            let p = position
            advance()
            if acceptKeyword("INDEX") {
                let seek = acceptKeyword("SEEK")
                let v = try variableName()
                try expectSymbol(":")
                let label = try symbolicName("a label")
                try expectSymbol("(")
                var props = [try symbolicName("a property key")]
                while acceptSymbol(",") { props.append(try symbolicName("a property key")) }
                try expectSymbol(")")
                hints.append(.index(variable: v, label: label, properties: props, seek: seek, position: p))
            } else if acceptKeyword("SCAN") {
                let v = try variableName()
                try expectSymbol(":")
                hints.append(.scan(variable: v, label: try symbolicName("a label"), position: p))
            } else if acceptKeyword("JOIN") {
                try expectKeyword("ON")
                var vars = [try variableName()]
                while acceptSymbol(",") { vars.append(try variableName()) }
                hints.append(.join(variables: vars, position: p))
            } else {
                throw unexpected(expected: "'INDEX', 'SCAN' or 'JOIN'")
            }
        }
        var whereClause: Expression?
        if acceptKeyword("WHERE") { whereClause = try expression() }
        return MatchClause(optional: optional, pattern: pat, hints: hints, whereClause: whereClause, position: start)
    }

    mutating func foreachBody(start: SourcePosition) throws -> ForeachClause {
        try expectSymbol("(")
        let v = try variableName()
        try expectKeyword("IN")
        let list = try expression()
        try expectSymbol("|")
        var clauses: [Clause] = []
        while !isSymbol(")") {
            guard let c = try clause() else { break }
            switch c {
            case .create, .merge, .set, .remove, .delete, .foreach:
                clauses.append(c)
            default:
                throw error(
                    "Invalid use of \(c.name) inside FOREACH: only updating clauses are allowed "
                        + "(InvalidClauseComposition)", at: c.position)
            }
        }
        if clauses.isEmpty { throw unexpected(expected: "an updating clause") }
        try expectSymbol(")")
        return ForeachClause(variable: v, list: list, clauses: clauses, position: start)
    }

    mutating func procedureCall(start: SourcePosition) throws -> ProcedureCall {
        var parts = [try symbolicName("a procedure name")]
        while acceptSymbol(".") { parts.append(try symbolicName("a procedure name")) }
        let name = parts.removeLast()
        var args: [Expression]?
        if acceptSymbol("(") {
            var list: [Expression] = []
            if !isSymbol(")") { list = try expressionList() }
            try expectSymbol(")")
            args = list
        }
        var yieldItems: [YieldItem]?
        var yieldAll = false
        var whereClause: Expression?
        if acceptKeyword("YIELD") {
            if acceptSymbol("*") {
                yieldAll = true
            } else {
                var items: [YieldItem] = []
                repeat {
                    let p = position
                    let n = try symbolicName("a procedure output name")
                    var alias: String?
                    if acceptKeyword("AS") { alias = try variableName() }
                    items.append(YieldItem(name: n, alias: alias, position: p))
                } while acceptSymbol(",")
                yieldItems = items
                if acceptKeyword("WHERE") { whereClause = try expression() }
            }
        }
        return ProcedureCall(
            namespace: parts, name: name, arguments: args, yieldItems: yieldItems, yieldAll: yieldAll,
            whereClause: whereClause, isStandalone: false, position: start)
    }

    mutating func projectionBody() throws -> ProjectionBody {
        let distinct = acceptKeyword("DISTINCT")
        var includeExisting = false
        var items: [ReturnItem] = []
        if acceptSymbol("*") {
            includeExisting = true
            while acceptSymbol(",") { items.append(try returnItem()) }
        } else {
            repeat { items.append(try returnItem()) } while acceptSymbol(",")
        }
        var order: [SortItem] = []
        if isKeyword("ORDER") {
            advance()
            try expectKeyword("BY")
            repeat {
                let p = position
                let e = try expression()
                var ascending = true
                if acceptKeyword("DESC") || acceptKeyword("DESCENDING") {
                    ascending = false
                } else {
                    _ = acceptKeyword("ASC") || acceptKeyword("ASCENDING")
                }
                order.append(SortItem(expression: e, ascending: ascending, position: p))
            } while acceptSymbol(",")
        }
        var skip: Expression?
        var limit: Expression?
        if acceptKeyword("SKIP") { skip = try expression() }
        if acceptKeyword("LIMIT") { limit = try expression() }
        return ProjectionBody(
            distinct: distinct, includeExisting: includeExisting, items: items, orderBy: order, skip: skip,
            limit: limit)
    }

    mutating func returnItem() throws -> ReturnItem {
        let start = position
        let e = try expression()
        let written = text(from: start.offset, to: previousEnd)
        var alias: String?
        if acceptKeyword("AS") { alias = try variableName() }
        return ReturnItem(expression: e, alias: alias, name: alias ?? written, position: start)
    }

    mutating func expressionList() throws -> [Expression] {
        var list = [try expression()]
        while acceptSymbol(",") { list.append(try expression()) }
        return list
    }

    mutating func setItems() throws -> [SetItem] {
        var items: [SetItem] = []
        repeat {
            let p = position
            if atVariableName && (peekToken().isSymbol("=") || peekToken().isSymbol("+=")) {
                let v = try variableName()
                if acceptSymbol("=") {
                    items.append(.replaceProperties(variable: v, value: try expression(), position: p))
                } else {
                    advance()
                    items.append(.mergeProperties(variable: v, value: try expression(), position: p))
                }
            } else if atVariableName && peekToken().isSymbol(":") {
                let v = try variableName()
                items.append(.labels(variable: v, labels: try labelList(), position: p))
            } else {
                let target = try postfixExpression()
                guard case .property(let entity, let key) = target.kind else {
                    throw error("Invalid input: expected a property, a variable or labels to SET", at: p)
                }
                if isSymbol("+=") { throw unexpected(expected: "'='") }
                try expectSymbol("=")
                items.append(.property(entity: entity, key: key, value: try expression(), position: p))
            }
        } while acceptSymbol(",")
        return items
    }

    mutating func removeItems() throws -> [RemoveItem] {
        var items: [RemoveItem] = []
        repeat {
            let p = position
            if atVariableName && peekToken().isSymbol(":") {
                let v = try variableName()
                items.append(.labels(variable: v, labels: try labelList(), position: p))
            } else {
                let target = try postfixExpression()
                guard case .property(let entity, let key) = target.kind else {
                    throw error("Invalid input: expected a property or labels to REMOVE", at: p)
                }
                items.append(.property(entity: entity, key: key, position: p))
            }
        } while acceptSymbol(",")
        return items
    }

    /// `:A:B` (at least one).
    mutating func labelList() throws -> [String] {
        var labels: [String] = []
        while acceptSymbol(":") { labels.append(try symbolicName("a label")) }
        if labels.isEmpty { throw unexpected(expected: "':'") }
        return labels
    }

    // MARK: - Patterns

    mutating func pattern() throws -> Pattern {
        let start = position
        var parts = [try patternPart()]
        while acceptSymbol(",") { parts.append(try patternPart()) }
        return Pattern(parts: parts, position: start)
    }

    mutating func patternPart() throws -> PatternPart {
        let start = position
        var variable: String?
        if atVariableName && peekToken().isSymbol("=") {
            variable = try variableName()
            advance()
        }
        if let selector = shortestPathSelector, peekToken().isSymbol("(") {
            advance()
            advance()
            let element = try patternElement()
            try expectSymbol(")")
            return PatternPart(variable: variable, selector: selector, element: element, position: start)
        }
        return PatternPart(variable: variable, element: try patternElement(), position: start)
    }

    var shortestPathSelector: PatternPart.Selector? {
        switch current.keyword {
        case "SHORTESTPATH": return .shortestPath
        case "ALLSHORTESTPATHS": return .allShortestPaths
        default: return nil
        }
    }

    mutating func patternElement() throws -> PatternElement {
        let start = position
        // `((a)-->(b))`: a parenthesised element.
        if isSymbol("(") && peekToken().isSymbol("(") {
            advance()
            try enter()
            defer { depth -= 1 }
            let inner = try patternElement()
            try expectSymbol(")")
            return try continueElement(from: inner, start: start)
        }
        let first = try nodePattern()
        return try continueElement(
            from: PatternElement(nodes: [first], relationships: [], position: start), start: start)
    }

    mutating func continueElement(from element: PatternElement, start: SourcePosition) throws -> PatternElement {
        var nodes = element.nodes
        var rels = element.relationships
        while isSymbol("-") || (isSymbol("<") && peekToken().isSymbol("-")) {
            rels.append(try relationshipPattern())
            nodes.append(try nodePattern())
        }
        return PatternElement(nodes: nodes, relationships: rels, position: start)
    }

    mutating func nodePattern() throws -> NodePattern {
        let start = position
        try expectSymbol("(")
        var variable: String?
        if atVariableName { variable = try variableName() }
        var labels: [String] = []
        while acceptSymbol(":") { labels.append(try symbolicName("a label")) }
        let props = try patternProperties()
        var predicate: Expression?
        if acceptKeyword("WHERE") { predicate = try expression() }
        try expectSymbol(")")
        return NodePattern(
            variable: variable, labels: labels, properties: props, predicate: predicate, position: start)
    }

    mutating func patternProperties() throws -> Expression? {
        if isSymbol("{") { return try mapLiteralOrLegacyParameter() }
        if isSymbol("$") { return try parameter() }
        return nil
    }

    mutating func relationshipPattern() throws -> RelationshipPattern {
        let start = position
        let leftArrow = acceptSymbol("<")
        try expectSymbol("-")
        var variable: String?
        var types: [String] = []
        var length: VariableLength?
        var props: Expression?
        var predicate: Expression?
        if acceptSymbol("[") {
            if atVariableName { variable = try variableName() }
            if acceptSymbol(":") {
                types.append(try symbolicName("a relationship type"))
                while acceptSymbol("|") {
                    _ = acceptSymbol(":")
                    types.append(try symbolicName("a relationship type"))
                }
            }
            if acceptSymbol("*") {
                var minimum: Int64?
                var maximum: Int64?
                if case .integer = current.kind { minimum = try integerLiteral(negative: false) }
                if acceptSymbol("..") {
                    if case .integer = current.kind { maximum = try integerLiteral(negative: false) }
                } else {
                    maximum = minimum
                }
                length = VariableLength(minimum: minimum, maximum: maximum)
            }
            props = try patternProperties()
            if acceptKeyword("WHERE") { predicate = try expression() }
            try expectSymbol("]")
        }
        try expectSymbol("-")
        let rightArrow = acceptSymbol(">")
        let direction: RelationshipDirection =
            leftArrow == rightArrow ? .both : (leftArrow ? .incoming : .outgoing)
        return RelationshipPattern(
            variable: variable, types: types, direction: direction, length: length, properties: props,
            predicate: predicate, position: start)
    }

    // MARK: - Expressions

    mutating func expression() throws -> Expression {
        try enter()
        defer { depth -= 1 }
        return try orExpression()
    }

    /// One more level of nesting (or one more operator in a chain).
    mutating func enter() throws {
        depth += 1
        if depth > Parser.maximumDepth {
            throw error("Expression nested too deeply (more than \(Parser.maximumDepth) levels)", at: position)
        }
    }

    /// A left-associative chain `operand (operator operand)*`: `op` names the binary operator the current token
    /// starts, if any. Each operator in the chain counts as one more nesting level (`enter()`), so long chains
    /// are bounded like deep nesting.
    mutating func leftAssociative(
        _ operand: (inout Parser) throws -> Expression, _ op: (inout Parser) -> BinaryOperator?
    ) throws -> Expression {
        let entryDepth = depth
        defer { depth = entryDepth }
        var left = try operand(&self)
        while let binary = op(&self) {
            let p = position
            advance()
            try enter()
            left = Expression(.binary(binary, left, try operand(&self)), at: p)
        }
        return left
    }

    mutating func orExpression() throws -> Expression {
        try leftAssociative({ try $0.xorExpression() }) { $0.isKeyword("OR") ? .or : nil }
    }

    mutating func xorExpression() throws -> Expression {
        try leftAssociative({ try $0.andExpression() }) { $0.isKeyword("XOR") ? .xor : nil }
    }

    mutating func andExpression() throws -> Expression {
        try leftAssociative({ try $0.notExpression() }) { $0.isKeyword("AND") ? .and : nil }
    }

    mutating func notExpression() throws -> Expression {
        if isKeyword("NOT") {
            let p = position
            advance()
            try enter()
            defer { depth -= 1 }
            return Expression(.unary(.not, try notExpression()), at: p)
        }
        return try comparisonExpression()
    }

    var comparisonOperator: BinaryOperator? {
        guard case .symbol(let s) = current.kind else { return nil }
        switch s {
        case "=": return .equal
        case "<>": return .notEqual
        case "<": return .lessThan
        case ">": return .greaterThan
        case "<=": return .lessThanOrEqual
        case ">=": return .greaterThanOrEqual
        default: return nil
        }
    }

    /// `a < b <= c` means `a < b AND b <= c`.
    mutating func comparisonExpression() throws -> Expression {
        let first = try predicateExpression()
        var comparisons: [Expression] = []
        var left = first
        let entryDepth = depth
        defer { depth = entryDepth }
        while let op = comparisonOperator {
            let p = position
            advance()
            try enter()
            let right = try predicateExpression()
            comparisons.append(Expression(.binary(op, left, right), at: p))
            left = right
        }
        guard var result = comparisons.first else { return first }
        for c in comparisons.dropFirst() {
            result = Expression(.binary(.and, result, c), at: c.position)
        }
        return result
    }

    mutating func predicateExpression() throws -> Expression {
        let entryDepth = depth
        defer { depth = entryDepth }
        var left = try additiveExpression()
        while true {
            let p = position
            try enter()
            if isKeyword("STARTS") && isKeyword("WITH", ahead: 1) {
                advance()
                advance()
                left = Expression(.binary(.startsWith, left, try additiveExpression()), at: p)
            } else if isKeyword("ENDS") && isKeyword("WITH", ahead: 1) {
                advance()
                advance()
                left = Expression(.binary(.endsWith, left, try additiveExpression()), at: p)
            } else if isKeyword("CONTAINS") {
                advance()
                left = Expression(.binary(.contains, left, try additiveExpression()), at: p)
            } else if isKeyword("IN") {
                advance()
                left = Expression(.binary(.in, left, try additiveExpression()), at: p)
            } else if isSymbol("=~") {
                advance()
                left = Expression(.binary(.regexMatch, left, try additiveExpression()), at: p)
            } else if isKeyword("IS") {
                advance()
                if acceptKeyword("NOT") {
                    try expectKeyword("NULL")
                    left = Expression(.isNotNull(left), at: p)
                } else {
                    try expectKeyword("NULL")
                    left = Expression(.isNull(left), at: p)
                }
            } else {
                return left
            }
        }
    }

    mutating func additiveExpression() throws -> Expression {
        try leftAssociative({ try $0.multiplicativeExpression() }) {
            $0.isSymbol("+") ? .add : $0.isSymbol("-") ? .subtract : nil
        }
    }

    mutating func multiplicativeExpression() throws -> Expression {
        try leftAssociative({ try $0.powerExpression() }) {
            $0.isSymbol("*") ? .multiply : $0.isSymbol("/") ? .divide : $0.isSymbol("%") ? .modulo : nil
        }
    }

    mutating func powerExpression() throws -> Expression {
        try leftAssociative({ try $0.unaryExpression() }) { $0.isSymbol("^") ? .power : nil }
    }

    mutating func unaryExpression() throws -> Expression {
        let p = position
        let entryDepth = depth
        defer { depth = entryDepth }
        if isSymbol("-") || isSymbol("+") { try enter() }
        if isSymbol("-") {
            advance()
            // `-9223372036854775808` is a valid literal although its magnitude alone is not.
            if case .integer = current.kind, !isPostfixStart(peekToken()) {
                return Expression(.literal(.integer(try integerLiteral(negative: true))), at: p)
            }
            return Expression(.unary(.negate, try unaryExpression()), at: p)
        }
        if isSymbol("+") {
            advance()
            return Expression(.unary(.plus, try unaryExpression()), at: p)
        }
        return try postfixExpression()
    }

    func isPostfixStart(_ token: Token) -> Bool {
        token.isSymbol(".") || token.isSymbol("[")
    }

    mutating func postfixExpression() throws -> Expression {
        let entryDepth = depth
        defer { depth = entryDepth }
        var e = try atom()
        while true {
            let p = position
            try enter()
            if isSymbol(".") {
                advance()
                e = Expression(.property(e, try symbolicName("a property key")), at: e.position)
            } else if isSymbol("[") {
                advance()
                if acceptSymbol("..") {
                    let to: Expression? = isSymbol("]") ? nil : try expression()
                    try expectSymbol("]")
                    e = Expression(.slice(e, from: nil, to: to), at: p)
                    continue
                }
                let first = try expression()
                if acceptSymbol("..") {
                    let to: Expression? = isSymbol("]") ? nil : try expression()
                    try expectSymbol("]")
                    e = Expression(.slice(e, from: first, to: to), at: p)
                } else {
                    try expectSymbol("]")
                    e = Expression(.index(e, first), at: p)
                }
            } else if isSymbol(":") {
                var labels: [String] = []
                while acceptSymbol(":") { labels.append(try symbolicName("a label")) }
                e = Expression(.hasLabels(e, labels), at: e.position)
            } else {
                return e
            }
        }
    }

    mutating func integerLiteral(negative: Bool) throws -> Int64 {
        guard case .integer(let raw) = current.kind else { throw unexpected(expected: "an integer") }
        let p = position
        advance()
        var digits = Substring(raw)
        var radix = 10
        if raw.count > 1 && raw.hasPrefix("0") {
            let marker = raw[raw.index(after: raw.startIndex)]
            if marker == "x" || marker == "X" {
                radix = 16
                digits = digits.dropFirst(2)
            } else if marker == "o" || marker == "O" {
                radix = 8
                digits = digits.dropFirst(2)
            } else {
                // Legacy octal `0777`.
                radix = 8
                digits = digits.dropFirst(1)
            }
        }
        let shown = (negative ? "-" : "") + raw
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else {
            throw error("Invalid input '\(shown)': invalid integer literal (InvalidNumberLiteral)", at: p)
        }
        guard let magnitude = UInt64(digits, radix: radix) else {
            throw error("integer is too large: '\(shown)' (IntegerOverflow)", at: p)
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else {
                throw error("integer is too large: '\(shown)' (IntegerOverflow)", at: p)
            }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else {
            throw error("integer is too large: '\(shown)' (IntegerOverflow)", at: p)
        }
        return Int64(magnitude)
    }

    mutating func parameter() throws -> Expression {
        let p = position
        try expectSymbol("$")
        switch current.kind {
        case .identifier(let name, _):
            advance()
            return Expression(.parameter(name), at: p)
        case .integer(let digits):
            advance()
            return Expression(.parameter(digits), at: p)
        default:
            throw unexpected(expected: "a parameter name")
        }
    }

    /// `{k: v, …}` or the legacy parameter `{name}`.
    mutating func mapLiteralOrLegacyParameter() throws -> Expression {
        let p = position
        if case .identifier(let name, _) = peekToken().kind, peekToken(2).isSymbol("}") {
            advance()
            advance()
            advance()
            return Expression(.parameter(name), at: p)
        }
        return Expression(.map(try mapEntries()), at: p)
    }

    mutating func mapEntries() throws -> [MapEntry] {
        try expectSymbol("{")
        var entries: [MapEntry] = []
        if acceptSymbol("}") { return entries }
        repeat {
            let key = try symbolicName("a property key name")
            try expectSymbol(":")
            entries.append(MapEntry(key: key, value: try expression()))
        } while acceptSymbol(",")
        try expectSymbol("}")
        return entries
    }

    mutating func atom() throws -> Expression {
        let p = position
        switch current.kind {
        case .end:
            throw unexpected(expected: "an expression")
        case .integer:
            return Expression(.literal(.integer(try integerLiteral(negative: false))), at: p)
        case .float(let d):
            advance()
            return Expression(.literal(.float(d)), at: p)
        case .string(let s):
            advance()
            return Expression(.literal(.string(s)), at: p)
        case .symbol(let s):
            switch s {
            case "$": return try parameter()
            case "{": return try mapLiteralOrLegacyParameter()
            case "[": return try listLike()
            case "(": return try parenthesised()
            default: throw unexpected(expected: "an expression")
            }
        case .identifier(let name, let quoted):
            if quoted { return try variableOrProjection() }
            return try keywordAtom(name: name, upper: name.uppercased(), at: p)
        }
    }

    mutating func variableOrProjection() throws -> Expression {
        let p = position
        let name = try variableName()
        if isSymbol("{") {
            return Expression(.mapProjection(variable: name, items: try mapProjectionItems()), at: p)
        }
        return Expression(.variable(name), at: p)
    }

    mutating func keywordAtom(name: String, upper: String, at p: SourcePosition) throws -> Expression {
        let next = peekToken()
        switch upper {
        case "TRUE":
            advance()
            return Expression(.literal(.boolean(true)), at: p)
        case "FALSE":
            advance()
            return Expression(.literal(.boolean(false)), at: p)
        case "NULL":
            advance()
            return Expression(.literal(.null), at: p)
        case "CASE":
            return try caseExpression()
        case "COUNT" where next.isSymbol("(") && peekToken(2).isSymbol("*"):
            advance()
            advance()
            advance()
            try expectSymbol(")")
            return Expression(.countStar, at: p)
        case "ALL", "ANY", "NONE", "SINGLE":
            if next.isSymbol("("), case .identifier = peekToken(2).kind, peekToken(3).keyword == "IN" {
                advance()
                advance()
                let (v, source, predicate) = try filterBody()
                try expectSymbol(")")
                return Expression(
                    .quantified(Quantifier(rawValue: name.lowercased())!, variable: v, source: source,
                        predicate: predicate), at: p)
            }
        case "FILTER", "EXTRACT":
            // Cypher 3.x list functions, kept for old applications: same as list comprehensions.
            if next.isSymbol("("), case .identifier = peekToken(2).kind, peekToken(3).keyword == "IN" {
                advance()
                advance()
                let v = try variableName()
                try expectKeyword("IN")
                let source = try expression()
                var predicate: Expression?
                var projection: Expression?
                if acceptKeyword("WHERE") { predicate = try expression() }
                if acceptSymbol("|") { projection = try expression() }
                try expectSymbol(")")
                return Expression(
                    .listComprehension(variable: v, source: source, predicate: predicate, projection: projection),
                    at: p)
            }
        case "REDUCE" where next.isSymbol("("):
            advance()
            advance()
            let acc = try variableName()
            try expectSymbol("=")
            let initial = try expression()
            try expectSymbol(",")
            let v = try variableName()
            try expectKeyword("IN")
            let source = try expression()
            try expectSymbol("|")
            let body = try expression()
            try expectSymbol(")")
            return Expression(
                .reduce(accumulator: acc, initial: initial, variable: v, source: source, body: body), at: p)
        case "SHORTESTPATH", "ALLSHORTESTPATHS":
            if next.isSymbol("(") {
                let part = try patternPart()
                return Expression(.shortestPathExpression(part), at: p)
            }
        case "EXISTS" where next.isSymbol("{"):
            advance()
            advance()
            let fullSubquery = acceptKeyword("MATCH")
            let pat = try pattern()
            var predicate: Expression?
            if acceptKeyword("WHERE") { predicate = try expression() }
            // `EXISTS { MATCH … RETURN … }`: only whether a row exists matters, so the projection is checked for
            // syntax and dropped.
            if fullSubquery && isKeyword("RETURN") {
                advance()
                _ = try projectionBody()
            }
            try expectSymbol("}")
            return Expression(.existsSubquery(pattern: pat, predicate: predicate), at: p)
        default:
            break
        }
        // Function call: `name(`, `ns.name(`.
        if next.isSymbol("(") || next.isSymbol(".") {
            var lookahead = index + 1
            while tokens[lookahead].isSymbol("."), case .identifier = tokens[lookahead + 1].kind {
                lookahead += 2
            }
            if tokens[lookahead].isSymbol("(") {
                return try functionCall()
            }
        }
        if reservedWords.contains(upper) { throw unexpected(expected: "an expression") }
        return try variableOrProjection()
    }

    mutating func functionCall() throws -> Expression {
        let p = position
        var parts = [try symbolicName()]
        while acceptSymbol(".") { parts.append(try symbolicName()) }
        let name = parts.removeLast()
        try expectSymbol("(")
        let distinct = acceptKeyword("DISTINCT")
        var args: [Expression] = []
        if !isSymbol(")") { args = try expressionList() }
        try expectSymbol(")")
        return Expression(
            .function(FunctionCall(namespace: parts, name: name, distinct: distinct, arguments: args)), at: p)
    }

    /// `x IN list [WHERE pred]` (inside `all(…)` etc.).
    mutating func filterBody() throws -> (String, Expression, Expression?) {
        let v = try variableName()
        try expectKeyword("IN")
        let source = try expression()
        var predicate: Expression?
        if acceptKeyword("WHERE") { predicate = try expression() }
        return (v, source, predicate)
    }

    mutating func caseExpression() throws -> Expression {
        let p = position
        try expectKeyword("CASE")
        var subject: Expression?
        if !isKeyword("WHEN") { subject = try expression() }
        var alternatives: [CaseAlternative] = []
        while acceptKeyword("WHEN") {
            let w = try expression()
            try expectKeyword("THEN")
            alternatives.append(CaseAlternative(when: w, then: try expression()))
        }
        if alternatives.isEmpty { throw unexpected(expected: "'WHEN'") }
        var defaultValue: Expression?
        if acceptKeyword("ELSE") { defaultValue = try expression() }
        try expectKeyword("END")
        return Expression(.caseExpression(subject: subject, alternatives: alternatives, defaultValue: defaultValue),
            at: p)
    }

    mutating func mapProjectionItems() throws -> [MapProjectionItem] {
        try expectSymbol("{")
        var items: [MapProjectionItem] = []
        if acceptSymbol("}") { return items }
        repeat {
            if acceptSymbol(".") {
                if acceptSymbol("*") {
                    items.append(.allProperties)
                } else {
                    items.append(.property(try symbolicName("a property key")))
                }
            } else if case .identifier = current.kind, peekToken().isSymbol(":") {
                let key = try symbolicName()
                advance()
                items.append(.literal(key: key, value: try expression()))
            } else {
                items.append(.variable(try variableName()))
            }
        } while acceptSymbol(",")
        try expectSymbol("}")
        return items
    }

    /// `[` starts a list literal, a list comprehension or a pattern comprehension.
    mutating func listLike() throws -> Expression {
        let p = position
        try expectSymbol("[")
        // List comprehension: `[x IN list …]`.
        if atVariableName && peekToken().keyword == "IN" {
            let saved = index
            let v = try variableName()
            advance()
            let source = try expression()
            if isKeyword("WHERE") || isSymbol("|") || isSymbol("]") {
                var predicate: Expression?
                var projection: Expression?
                if acceptKeyword("WHERE") { predicate = try expression() }
                if acceptSymbol("|") { projection = try expression() }
                try expectSymbol("]")
                return Expression(
                    .listComprehension(variable: v, source: source, predicate: predicate, projection: projection),
                    at: p)
            }
            index = saved
        }
        // Pattern comprehension: `[(a)-->(b) WHERE … | expr]`, `[p = (a)-->(b) | p]`.
        if isSymbol("(") || (atVariableName && peekToken().isSymbol("=") && peekToken(2).isSymbol("(")) {
            let saved = index
            if let comprehension = try? patternComprehension(start: p) {
                return comprehension
            }
            index = saved
        }
        var items: [Expression] = []
        if !isSymbol("]") { items = try expressionList() }
        try expectSymbol("]")
        return Expression(.list(items), at: p)
    }

    mutating func patternComprehension(start: SourcePosition) throws -> Expression {
        var pathVariable: String?
        if atVariableName {
            pathVariable = try variableName()
            try expectSymbol("=")
        }
        let element = try patternElement()
        guard !element.relationships.isEmpty else { throw unexpected(expected: "a relationship pattern") }
        var predicate: Expression?
        if acceptKeyword("WHERE") { predicate = try expression() }
        try expectSymbol("|")
        let projection = try expression()
        try expectSymbol("]")
        return Expression(
            .patternComprehension(
                pathVariable: pathVariable, pattern: element, predicate: predicate, projection: projection),
            at: start)
    }

    /// `(` starts a parenthesised expression or a pattern expression `(a)-[:T]->(b)`.
    mutating func parenthesised() throws -> Expression {
        let p = position
        let saved = index
        if let element = try? patternElement(), !element.relationships.isEmpty {
            return Expression(.patternExpression(element), at: p)
        }
        index = saved
        try expectSymbol("(")
        let e = try expression()
        try expectSymbol(")")
        return e
    }

    // MARK: - Schema commands

    /// Parses index/constraint commands and SHOW; returns nil (consuming nothing) when the statement is a query.
    mutating func schemaCommand() throws -> SchemaCommand? {
        let start = position
        if isKeyword("SHOW") {
            advance()
            var filter: String?
            if !(isKeyword("INDEX") || isKeyword("INDEXES") || isKeyword("CONSTRAINT") || isKeyword("CONSTRAINTS")) {
                var words: [String] = []
                while let k = current.keyword,
                    !["INDEX", "INDEXES", "CONSTRAINT", "CONSTRAINTS"].contains(k)
                {
                    words.append(k)
                    advance()
                }
                filter = words.joined(separator: " ")
            }
            let kind: ShowKind
            if acceptKeyword("INDEX") || acceptKeyword("INDEXES") {
                kind = .indexes
            } else if acceptKeyword("CONSTRAINT") || acceptKeyword("CONSTRAINTS") {
                kind = .constraints
            } else {
                throw unexpected(expected: "'INDEXES' or 'CONSTRAINTS'")
            }
            _ = acceptKeyword("BRIEF") || acceptKeyword("VERBOSE")
            _ = acceptKeyword("OUTPUT")
            var yieldItems: [YieldItem]?
            var yieldAll = false
            var whereClause: Expression?
            if acceptKeyword("YIELD") {
                if acceptSymbol("*") {
                    yieldAll = true
                } else {
                    var items: [YieldItem] = []
                    repeat {
                        let p = position
                        let n = try symbolicName()
                        var alias: String?
                        if acceptKeyword("AS") { alias = try variableName() }
                        items.append(YieldItem(name: n, alias: alias, position: p))
                    } while acceptSymbol(",")
                    yieldItems = items
                }
            }
            if acceptKeyword("WHERE") { whereClause = try expression() }
            // `… YIELD a, b RETURN b, a`: a RETURN that only re-projects yielded columns by name (as the TCK runner
            // and drivers' schema helpers send) becomes the yield list in RETURN order.
            if isKeyword("RETURN") {
                let returnPosition = position
                advance()
                let body = try projectionBody()
                var reordered: [YieldItem] = []
                for item in body.items {
                    guard case .variable(let name) = item.expression.kind, item.alias == nil || item.alias == name,
                        !body.distinct, body.orderBy.isEmpty, body.skip == nil, body.limit == nil,
                        let yielded = yieldItems?.first(where: { $0.variable == name }) ?? (yieldAll
                            ? YieldItem(name: name, alias: nil, position: item.position) : nil)
                    else {
                        throw error(
                            "SHOW … RETURN supports only returning yielded columns by name", at: returnPosition)
                    }
                    reordered.append(yielded)
                }
                if body.includeExisting {
                    reordered = (yieldItems ?? []) + reordered
                    if yieldAll && body.items.isEmpty { return .show(kind, filter: filter, yieldItems: nil,
                        yieldAll: true, whereClause: whereClause, position: start) }
                }
                yieldItems = reordered
                yieldAll = false
            }
            return .show(
                kind, filter: filter, yieldItems: yieldItems, yieldAll: yieldAll, whereClause: whereClause,
                position: start)
        }
        if isKeyword("CREATE") {
            let next = peekToken().keyword
            let kinds = ["BTREE", "RANGE", "TEXT", "POINT", "LOOKUP", "FULLTEXT"]
            if next == "INDEX" || (next.map(kinds.contains) == true && isKeyword("INDEX", ahead: 2)) {
                advance()
                var kind = IndexKind.default
                if let k = current.keyword, kinds.contains(k) {
                    kind = IndexKind(rawValue: k.lowercased()) ?? .default
                    advance()
                }
                try expectKeyword("INDEX")
                return try createIndex(kind: kind, start: start)
            }
            if next == "CONSTRAINT" {
                advance()
                advance()
                return try createConstraint(start: start)
            }
            return nil
        }
        if isKeyword("DROP") {
            advance()
            if acceptKeyword("INDEX") {
                if acceptKeyword("ON") {
                    try expectSymbol(":")
                    let label = try symbolicName("a label")
                    try expectSymbol("(")
                    var props = [try symbolicName("a property key")]
                    while acceptSymbol(",") { props.append(try symbolicName("a property key")) }
                    try expectSymbol(")")
                    return .dropIndexOn(entity: .node(label: label), properties: props, position: start)
                }
                let name = try symbolicName("an index name")
                let ifExists = try ifExistsClause()
                return .dropIndex(name: name, ifExists: ifExists, position: start)
            }
            if acceptKeyword("CONSTRAINT") {
                if acceptKeyword("ON") {
                    let (kind, entity, props) = try constraintDefinition(requireKeyword: "ASSERT")
                    return .dropConstraintOn(kind: kind, entity: entity, properties: props, position: start)
                }
                let name = try symbolicName("a constraint name")
                let ifExists = try ifExistsClause()
                return .dropConstraint(name: name, ifExists: ifExists, position: start)
            }
            throw unexpected(expected: "'INDEX' or 'CONSTRAINT'")
        }
        return nil
    }

    mutating func ifExistsClause() throws -> Bool {
        if acceptKeyword("IF") {
            try expectKeyword("EXISTS")
            return true
        }
        return false
    }

    mutating func ifNotExistsClause() throws -> Bool {
        if acceptKeyword("IF") {
            try expectKeyword("NOT")
            try expectKeyword("EXISTS")
            return true
        }
        return false
    }

    /// After `CREATE [kind] INDEX`.
    mutating func createIndex(kind: IndexKind, start: SourcePosition) throws -> SchemaCommand {
        // 3.x: `CREATE INDEX ON :Label(p, …)`.
        if isKeyword("ON") && peekToken().isSymbol(":") {
            advance()
            advance()
            let label = try symbolicName("a label")
            try expectSymbol("(")
            var props = [try symbolicName("a property key")]
            while acceptSymbol(",") { props.append(try symbolicName("a property key")) }
            try expectSymbol(")")
            return .createIndex(
                name: nil, kind: kind, entity: .node(label: label), properties: props, ifNotExists: false,
                position: start)
        }
        var name: String?
        if !isKeyword("FOR") && !isKeyword("IF") { name = try symbolicName("an index name") }
        let ifNotExists = try ifNotExistsClause()
        try expectKeyword("FOR")
        let (variable, entity) = try schemaEntityPattern()
        try expectKeyword("ON")
        if kind == .fulltext || acceptKeyword("EACH") {
            try expectSymbol("[")
        } else {
            try expectSymbol("(")
        }
        var props: [String] = []
        repeat {
            let v = try variableName()
            guard v == variable else {
                throw error("Invalid index definition: property must belong to '\(variable)'", at: position)
            }
            try expectSymbol(".")
            props.append(try symbolicName("a property key"))
        } while acceptSymbol(",")
        if !acceptSymbol(")") { try expectSymbol("]") }
        if acceptKeyword("OPTIONS") { _ = try mapEntries() }
        return .createIndex(
            name: name, kind: kind, entity: entity, properties: props, ifNotExists: ifNotExists, position: start)
    }

    /// `(n:Label)` or `()-[r:TYPE]-()` (either arrow form).
    mutating func schemaEntityPattern() throws -> (String, SchemaEntity) {
        try expectSymbol("(")
        if acceptSymbol(")") {
            _ = acceptSymbol("<")
            try expectSymbol("-")
            try expectSymbol("[")
            let v = try variableName()
            try expectSymbol(":")
            let type = try symbolicName("a relationship type")
            try expectSymbol("]")
            try expectSymbol("-")
            _ = acceptSymbol(">")
            try expectSymbol("(")
            try expectSymbol(")")
            return (v, .relationship(type: type))
        }
        let v = try variableName()
        try expectSymbol(":")
        let label = try symbolicName("a label")
        try expectSymbol(")")
        return (v, .node(label: label))
    }

    /// After `CREATE CONSTRAINT`: `[name] [IF NOT EXISTS] ON|FOR (n:L) ASSERT|REQUIRE …`.
    mutating func createConstraint(start: SourcePosition) throws -> SchemaCommand {
        var name: String?
        if !isKeyword("ON") && !isKeyword("FOR") && !isKeyword("IF") { name = try symbolicName("a constraint name") }
        let ifNotExists = try ifNotExistsClause()
        let requireWord: String
        if acceptKeyword("ON") {
            requireWord = "ASSERT"
        } else {
            try expectKeyword("FOR")
            requireWord = "REQUIRE"
        }
        let (kind, entity, props) = try constraintDefinition(requireKeyword: requireWord)
        if acceptKeyword("OPTIONS") { _ = try mapEntries() }
        return .createConstraint(
            name: name, kind: kind, entity: entity, properties: props, ifNotExists: ifNotExists, position: start)
    }

    /// `(n:L) ASSERT n.p IS UNIQUE`, `… ASSERT (n.a, n.b) IS NODE KEY`, `… ASSERT exists(n.p)`,
    /// `… REQUIRE n.p IS NOT NULL` (either keyword accepted).
    mutating func constraintDefinition(requireKeyword: String) throws -> (ConstraintKind, SchemaEntity, [String]) {
        let (variable, entity) = try schemaEntityPattern()
        if !acceptKeyword("ASSERT") && !acceptKeyword("REQUIRE") { throw unexpected(expected: "'\(requireKeyword)'") }
        func property(_ parser: inout Parser) throws -> String {
            let p = parser.position
            let v = try parser.variableName()
            guard v == variable else {
                throw parser.error("Invalid constraint definition: property must belong to '\(variable)'", at: p)
            }
            try parser.expectSymbol(".")
            return try parser.symbolicName("a property key")
        }
        if isKeyword("EXISTS") && peekToken().isSymbol("(") {
            advance()
            advance()
            let prop = try property(&self)
            try expectSymbol(")")
            return (.propertyExists, entity, [prop])
        }
        var props: [String] = []
        if acceptSymbol("(") {
            repeat { props.append(try property(&self)) } while acceptSymbol(",")
            try expectSymbol(")")
        } else {
            props.append(try property(&self))
        }
        try expectKeyword("IS")
        if acceptKeyword("UNIQUE") { return (.unique, entity, props) }
        if acceptKeyword("NODE") {
            try expectKeyword("KEY")
            return (.nodeKey, entity, props)
        }
        if acceptKeyword("NOT") {
            try expectKeyword("NULL")
            return (.propertyExists, entity, props)
        }
        throw unexpected(expected: "'UNIQUE', 'NODE KEY' or 'NOT NULL'")
    }
}

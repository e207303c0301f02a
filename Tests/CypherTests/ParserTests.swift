import GraphValues
import Testing

@testable import Cypher

/// Parses and returns the single query's clauses (fails the test on schema statements).
private func clauses(_ text: String) throws -> [Clause] {
    let statement = try CypherParser.parse(text)
    guard case .query(let q) = statement.kind else {
        Issue.record("expected a query for \(text)")
        return []
    }
    return q.first.clauses
}

private func expr(_ text: String) throws -> ExpressionKind {
    try CypherParser.parseExpression(text).kind
}

private func syntaxError(_ text: String) -> DatabaseError? {
    do {
        _ = try CypherParser.parse(text)
        return nil
    } catch let e as DatabaseError {
        return e
    } catch {
        return nil
    }
}

private func int(_ v: Int64) -> ExpressionKind { .literal(.integer(v)) }
private func v(_ name: String) -> ExpressionKind { .variable(name) }

/// Strips positions so trees can be compared structurally.
private func shape(_ e: Expression) -> String { describeShape(e.kind) }

private func describeShape(_ k: ExpressionKind) -> String {
    switch k {
    case .literal(let value):
        switch value {
        case .integer(let i): return "\(i)"
        case .float(let d): return "\(d)"
        case .string(let s): return "'\(s)'"
        case .boolean(let b): return "\(b)"
        case .null: return "null"
        default: return "?"
        }
    case .variable(let n): return n
    case .parameter(let n): return "$\(n)"
    case .binary(let op, let l, let r): return "(\(shape(l)) \(op.rawValue) \(shape(r)))"
    case .unary(let op, let e): return "(\(op.rawValue) \(shape(e)))"
    case .property(let e, let k): return "\(shape(e)).\(k)"
    case .isNull(let e): return "(\(shape(e)) IS NULL)"
    case .isNotNull(let e): return "(\(shape(e)) IS NOT NULL)"
    case .index(let e, let i): return "\(shape(e))[\(shape(i))]"
    case .hasLabels(let e, let l): return "\(shape(e)):\(l.joined(separator: ":"))"
    case .function(let f):
        return "\(f.qualifiedName)(\(f.distinct ? "DISTINCT " : "")\(f.arguments.map(shape).joined(separator: ", ")))"
    case .list(let items): return "[\(items.map(shape).joined(separator: ", "))]"
    default: return "<\(k)>"
    }
}

@Suite("Cypher lexer and literals")
struct ParserLiteralTests {
    @Test("integer literals in decimal, hex and octal")
    func integers() throws {
        #expect(try expr("123") == int(123))
        #expect(try expr("0x1F") == int(31))
        #expect(try expr("0o17") == int(15))
        #expect(try expr("-9223372036854775808") == int(Int64.min))
        #expect(try expr("9223372036854775807") == int(Int64.max))
        #expect(try expr("-0x8000000000000000") == int(Int64.min))
    }

    @Test("integer overflow is a SyntaxError mentioning IntegerOverflow")
    func integerOverflow() {
        for q in ["RETURN 9223372036854775808", "RETURN -9223372036854775809", "RETURN 0o1000000000000000000000"] {
            let e = syntaxError(q)
            #expect(e?.code == .syntaxError)
            #expect(e?.message.contains("IntegerOverflow") == true, "\(q)")
        }
    }

    @Test("malformed numbers are rejected")
    func invalidNumbers() {
        #expect(syntaxError("RETURN 9223372h54775808")?.code == .syntaxError)
        #expect(syntaxError("RETURN 0x1G")?.code == .syntaxError)
        #expect(syntaxError("RETURN 9223372#54775808")?.code == .syntaxError)
    }

    @Test("floats with fractions and exponents")
    func floats() throws {
        #expect(try expr("1.5") == .literal(.float(1.5)))
        #expect(try expr(".5") == .literal(.float(0.5)))
        #expect(try expr("1e3") == .literal(.float(1000)))
        #expect(try expr("1.5E-2") == .literal(.float(0.015)))
    }

    @Test("string escapes including unicode")
    func strings() throws {
        #expect(try expr(#"'a\'b'"#) == .literal(.string("a'b")))
        #expect(try expr(#""tab\there""#) == .literal(.string("tab\there")))
        #expect(try expr(#"'\u01FF'"#) == .literal(.string("\u{01FF}")))
        #expect(try expr(#"'\\'"#) == .literal(.string("\\")))
        #expect(syntaxError(#"RETURN '\uH'"#)?.message.contains("InvalidUnicodeLiteral") == true)
        #expect(syntaxError("RETURN 'unterminated")?.code == .syntaxError)
    }

    @Test("comments are skipped")
    func comments() throws {
        let c = try clauses("MATCH (n) // line comment\n /* block\n comment */ RETURN n")
        #expect(c.count == 2)
    }

    @Test("keywords are case-insensitive and backticks quote names")
    func keywords() throws {
        let c = try clauses("match (`my node`:`Label X`) return `my node`.`the key` AS `a b`")
        guard case .match(let m) = c[0], case .return(let r) = c[1] else {
            Issue.record("unexpected clauses")
            return
        }
        #expect(m.pattern.parts[0].element.nodes[0].variable == "my node")
        #expect(m.pattern.parts[0].element.nodes[0].labels == ["Label X"])
        #expect(r.projection.items[0].name == "a b")
    }
}

@Suite("Cypher expression precedence")
struct ParserPrecedenceTests {
    @Test("boolean operators: OR < XOR < AND < NOT")
    func booleans() throws {
        #expect(shape(try CypherParser.parseExpression("a OR b XOR c AND NOT d")) == "(a OR (b XOR (c AND (NOT d))))")
        #expect(shape(try CypherParser.parseExpression("NOT a = b")) == "(NOT (a = b))")
    }

    @Test("arithmetic precedence and left-associative power")
    func arithmetic() throws {
        #expect(shape(try CypherParser.parseExpression("1 + 2 * 3 ^ 2")) == "(1 + (2 * (3 ^ 2)))")
        #expect(shape(try CypherParser.parseExpression("2 ^ 3 ^ 2")) == "((2 ^ 3) ^ 2)")
        #expect(shape(try CypherParser.parseExpression("a - b - c")) == "((a - b) - c)")
        #expect(shape(try CypherParser.parseExpression("-a.b")) == "(- a.b)")
        #expect(shape(try CypherParser.parseExpression("10 % 3 / 2")) == "((10 % 3) / 2)")
    }

    @Test("chained comparisons become AND")
    func chained() throws {
        #expect(shape(try CypherParser.parseExpression("a < b <= c")) == "((a < b) AND (b <= c))")
    }

    @Test("string and list predicates bind tighter than comparison, looser than arithmetic")
    func predicates() throws {
        #expect(
            shape(try CypherParser.parseExpression("a + 'x' STARTS WITH b = true"))
                == "(((a + 'x') STARTS WITH b) = true)")
        #expect(shape(try CypherParser.parseExpression("x IN [1, 2] AND y IS NOT NULL"))
            == "((x IN [1, 2]) AND (y IS NOT NULL))")
        #expect(shape(try CypherParser.parseExpression("a.b IS NULL")) == "(a.b IS NULL)")
        #expect(shape(try CypherParser.parseExpression("n.name =~ 'A.*'")) == "(n.name =~ 'A.*')")
        #expect(shape(try CypherParser.parseExpression("s ENDS WITH 'x' OR s CONTAINS 'y'"))
            == "((s ENDS WITH 'x') OR (s CONTAINS 'y'))")
    }

    @Test("postfix: property, index, slice, labels")
    func postfix() throws {
        #expect(shape(try CypherParser.parseExpression("a.b.c[0]")) == "a.b.c[0]")
        #expect(shape(try CypherParser.parseExpression("n:A:B")) == "n:A:B")
        guard case .slice(_, let from, let to) = try expr("list[1..]") else {
            Issue.record("expected slice")
            return
        }
        #expect(from?.kind == int(1))
        #expect(to == nil)
    }
}

@Suite("Cypher expression forms")
struct ParserExpressionTests {
    @Test("parameters: $name, $0 and legacy {name}")
    func parameters() throws {
        #expect(try expr("$name") == .parameter("name"))
        #expect(try expr("$0") == .parameter("0"))
        #expect(try expr("{name}") == .parameter("name"))
    }

    @Test("maps and lists")
    func collections() throws {
        guard case .map(let entries) = try expr("{a: 1, `b c`: [1, 2]}") else {
            Issue.record("expected map")
            return
        }
        #expect(entries.map(\.key) == ["a", "b c"])
        #expect(syntaxError("RETURN [, ]") != nil)
        #expect(syntaxError("RETURN {k1.k: 1}") != nil)
        #expect(syntaxError("RETURN {1}") != nil)
        #expect(syntaxError("RETURN {k: {k: {}}") != nil)
    }

    @Test("CASE in both forms")
    func caseForms() throws {
        guard case .caseExpression(let subject, let alts, let def) = try expr("CASE x WHEN 1 THEN 'a' ELSE 'b' END")
        else {
            Issue.record("expected case")
            return
        }
        #expect(subject?.kind == v("x"))
        #expect(alts.count == 1)
        #expect(def?.kind == .literal(.string("b")))
        guard case .caseExpression(nil, let alts2, nil) = try expr("CASE WHEN a THEN 1 WHEN b THEN 2 END") else {
            Issue.record("expected generic case")
            return
        }
        #expect(alts2.count == 2)
    }

    @Test("list comprehension, quantifiers, reduce")
    func comprehensions() throws {
        guard case .listComprehension("x", _, let pred, let proj) = try expr("[x IN list WHERE x > 1 | x * 2]") else {
            Issue.record("expected list comprehension")
            return
        }
        #expect(pred != nil && proj != nil)
        guard case .quantified(.none, "x", _, _) = try expr("none(x IN [1] WHERE x = 2)") else {
            Issue.record("expected quantifier")
            return
        }
        guard case .reduce("acc", _, "x", _, _) = try expr("reduce(acc = 0, x IN [1,2] | acc + x)") else {
            Issue.record("expected reduce")
            return
        }
        // `[x IN list]` with nothing else is still a comprehension; `[x]` a list.
        guard case .listComprehension = try expr("[x IN [1,2]]"), case .list = try expr("[x]") else {
            Issue.record("expected comprehension then list")
            return
        }
    }

    @Test("pattern comprehension and pattern predicates")
    func patterns() throws {
        guard case .patternComprehension(let pv, let element, let pred, _) =
            try expr("[p = (a)-[:KNOWS]->(b:Person) WHERE b.age > 3 | b.name]")
        else {
            Issue.record("expected pattern comprehension")
            return
        }
        #expect(pv == "p")
        #expect(element.relationships[0].types == ["KNOWS"])
        #expect(pred != nil)
        guard case .patternExpression(let e) = try expr("(a)-->(:X)") else {
            Issue.record("expected pattern expression")
            return
        }
        #expect(e.relationships[0].direction == .outgoing)
        // A parenthesised expression is not a pattern.
        #expect(shape(try CypherParser.parseExpression("(a) - (b)")) == "(a - b)")
        #expect(shape(try CypherParser.parseExpression("(1 + 2) * 3")) == "((1 + 2) * 3)")
    }

    @Test("map projection")
    func mapProjection() throws {
        guard case .mapProjection("n", let items) = try expr("n {.name, .*, age: n.age + 1, other}") else {
            Issue.record("expected map projection")
            return
        }
        #expect(items.count == 4)
        #expect(items[0] == .property("name"))
        #expect(items[1] == .allProperties)
        #expect(items[3] == .variable("other"))
    }

    @Test("function calls, namespaces, DISTINCT and count(*)")
    func functions() throws {
        #expect(shape(try CypherParser.parseExpression("count(DISTINCT n.x)")) == "count(DISTINCT n.x)")
        #expect(shape(try CypherParser.parseExpression("date.truncate('day', d)")) == "date.truncate('day', d)")
        #expect(try expr("count(*)") == .countStar)
        guard case .existsSubquery(let p, let w) = try expr("EXISTS { MATCH (n)-->(m) WHERE m.x = 1 }") else {
            Issue.record("expected exists subquery")
            return
        }
        #expect(p.parts.count == 1 && w != nil)
        guard case .shortestPathExpression(let part) = try expr("shortestPath((a)-[*..5]-(b))") else {
            Issue.record("expected shortestPath")
            return
        }
        #expect(part.selector == .shortestPath)
        #expect(part.element.relationships[0].length == VariableLength(minimum: nil, maximum: 5))
    }
}

@Suite("Cypher clauses")
struct ParserClauseTests {
    @Test("MATCH with relationship details, variable length and WHERE")
    func match() throws {
        let c = try clauses("MATCH p = (a:Person {name: 'A'})<-[r:KNOWS|:LIKES*1..3 {w: 1}]-(b) WHERE a <> b RETURN p")
        guard case .match(let m) = c[0] else {
            Issue.record("expected match")
            return
        }
        let part = m.pattern.parts[0]
        #expect(part.variable == "p")
        let rel = part.element.relationships[0]
        #expect(rel.direction == .incoming)
        #expect(rel.types == ["KNOWS", "LIKES"])
        #expect(rel.length == VariableLength(minimum: 1, maximum: 3))
        #expect(rel.properties != nil)
        #expect(m.whereClause != nil)
        #expect(!m.optional)
    }

    @Test("variable-length forms")
    func lengths() throws {
        func length(_ q: String) throws -> VariableLength? {
            guard case .match(let m) = try clauses("MATCH (a)-[\(q)]->(b) RETURN a")[0] else { return nil }
            return m.pattern.parts[0].element.relationships[0].length
        }
        #expect(try length("*") == VariableLength(minimum: nil, maximum: nil))
        #expect(try length("*2") == VariableLength(minimum: 2, maximum: 2))
        #expect(try length("*..4") == VariableLength(minimum: nil, maximum: 4))
        #expect(try length("*2..") == VariableLength(minimum: 2, maximum: nil))
        #expect(try length(":T") == nil)
    }

    @Test("OPTIONAL MATCH, WITH … WHERE, ORDER BY, SKIP, LIMIT, DISTINCT")
    func projection() throws {
        let c = try clauses(
            "OPTIONAL MATCH (n) WITH DISTINCT n.x AS x, count(*) AS c WHERE c > 1 "
                + "RETURN x ORDER BY x DESC, c SKIP 1 LIMIT $l")
        guard case .match(let m) = c[0], case .with(let w) = c[1], case .return(let r) = c[2] else {
            Issue.record("unexpected clauses")
            return
        }
        #expect(m.optional)
        #expect(w.projection.distinct)
        #expect(w.projection.items.map(\.name) == ["x", "c"])
        #expect(w.whereClause != nil)
        #expect(r.projection.orderBy.map(\.ascending) == [false, true])
        #expect(r.projection.skip?.kind == int(1))
        #expect(r.projection.limit?.kind == .parameter("l"))
    }

    @Test("unaliased return items are named after their text")
    func columnNames() throws {
        guard case .return(let r) = try clauses("RETURN n.name,  count( * ), 1 + 2 ")[0] else { return }
        #expect(r.projection.items.map(\.name) == ["n.name", "count( * )", "1 + 2"])
        guard case .return(let r2) = try clauses("RETURN *, 1 AS x")[0] else { return }
        #expect(r2.projection.includeExisting)
    }

    @Test("CREATE, MERGE with actions, SET forms, REMOVE, DELETE")
    func updating() throws {
        let c = try clauses(
            "CREATE (a:A {x: 1})-[:T]->(b) MERGE (c:C {id: 1}) ON CREATE SET c.new = true ON MATCH SET c += {m: 1} "
                + "SET a.x = 2, a = {y: 1}, a:B:C, b += $p REMOVE a.y, a:B DETACH DELETE a, b DELETE c")
        #expect(c.map(\.name) == ["CREATE", "MERGE", "SET", "REMOVE", "DETACH DELETE", "DELETE"])
        guard case .merge(let merge) = c[1], case .set(let set) = c[2], case .remove(let remove) = c[3] else {
            Issue.record("unexpected clauses")
            return
        }
        #expect(merge.actions.map(\.trigger) == [.onCreate, .onMatch])
        guard case .mergeProperties("c", _, _) = merge.actions[1].items[0] else {
            Issue.record("expected +=")
            return
        }
        #expect(set.items.count == 4)
        guard case .property(_, "x", _, _) = set.items[0], case .replaceProperties("a", _, _) = set.items[1],
            case .labels("a", ["B", "C"], _) = set.items[2], case .mergeProperties("b", _, _) = set.items[3]
        else {
            Issue.record("unexpected set items \(set.items)")
            return
        }
        guard case .property(_, "y", _) = remove.items[0], case .labels("a", ["B"], _) = remove.items[1] else {
            Issue.record("unexpected remove items")
            return
        }
    }

    @Test("UNWIND, FOREACH and LOAD CSV")
    func unwindForeachLoad() throws {
        let c = try clauses(
            "LOAD CSV WITH HEADERS FROM 'file:///x.csv' AS row FIELDTERMINATOR ';' UNWIND [1,2] AS i "
                + "FOREACH (x IN [1] | CREATE (:N {v: x}) SET row.a = 1)")
        guard case .loadCSV(let l) = c[0], case .unwind(let u) = c[1], case .foreach(let f) = c[2] else {
            Issue.record("unexpected clauses")
            return
        }
        #expect(l.withHeaders && l.variable == "row" && l.fieldTerminator == ";")
        #expect(u.variable == "i")
        #expect(f.variable == "x" && f.clauses.count == 2)
        #expect(syntaxError("FOREACH (x IN [1] | MATCH (n) )") != nil)
    }

    @Test("standalone and in-query CALL")
    func call() throws {
        guard case .call(let standalone) = try clauses("CALL db.labels")[0] else { return }
        #expect(standalone.isStandalone && standalone.arguments == nil && standalone.qualifiedName == "db.labels")
        let c = try clauses("CALL db.propertyKeys() YIELD propertyKey AS k WHERE k <> 'x' RETURN k")
        guard case .call(let inQuery) = c[0] else { return }
        #expect(!inQuery.isStandalone)
        #expect(inQuery.arguments == [])
        #expect(inQuery.yieldItems?.map(\.variable) == ["k"])
        #expect(inQuery.whereClause != nil)
        guard case .subquery = try clauses("CALL { MATCH (n) RETURN n } RETURN n")[0] else {
            Issue.record("expected subquery")
            return
        }
    }

    @Test("UNION and UNION ALL")
    func union() throws {
        let s = try CypherParser.parse("RETURN 1 AS x UNION ALL RETURN 2 AS x UNION RETURN 3 AS x")
        guard case .query(let q) = s.kind else { return }
        #expect(q.unions.map(\.all) == [true, false])
        #expect(q.singleQueries.count == 3)
    }

    @Test("EXPLAIN and PROFILE")
    func modes() throws {
        #expect(try CypherParser.parse("EXPLAIN MATCH (n) RETURN n").mode == .explain)
        #expect(try CypherParser.parse("profile MATCH (n) RETURN n;").mode == .profile)
    }

    @Test("shortestPath in MATCH and hints")
    func shortest() throws {
        guard case .match(let m) = try clauses(
            "MATCH (a:A), p = allShortestPaths((a)-[*]-(b)) USING INDEX a:A(name) USING SCAN b:B RETURN p")[0]
        else { return }
        #expect(m.pattern.parts[1].selector == .allShortestPaths)
        #expect(m.hints.count == 2)
    }
}

@Suite("Cypher schema commands")
struct ParserSchemaTests {
    private func schema(_ q: String) throws -> SchemaCommand? {
        if case .schema(let s) = try CypherParser.parse(q).kind { return s }
        return nil
    }

    @Test("3.x index and constraint syntax")
    func legacy() throws {
        guard case .createIndex(nil, .default, .node("Person"), ["name"], false, _) =
            try schema("CREATE INDEX ON :Person(name)")
        else {
            Issue.record("3.x create index")
            return
        }
        guard case .dropIndexOn(.node("Person"), ["name", "age"], _) = try schema("DROP INDEX ON :Person(name, age)")
        else {
            Issue.record("3.x drop index")
            return
        }
        guard case .createConstraint(nil, .unique, .node("P"), ["id"], false, _) =
            try schema("CREATE CONSTRAINT ON (p:P) ASSERT p.id IS UNIQUE")
        else {
            Issue.record("3.x unique constraint")
            return
        }
        guard case .createConstraint(_, .propertyExists, .node("P"), ["id"], _, _) =
            try schema("CREATE CONSTRAINT ON (p:P) ASSERT exists(p.id)")
        else {
            Issue.record("3.x exists constraint")
            return
        }
        guard case .dropConstraintOn(.nodeKey, .node("P"), ["a", "b"], _) =
            try schema("DROP CONSTRAINT ON (p:P) ASSERT (p.a, p.b) IS NODE KEY")
        else {
            Issue.record("3.x drop node key")
            return
        }
    }

    @Test("4.x/5 syntax")
    func modern() throws {
        guard case .createIndex("idx", .range, .node("L"), ["a", "b"], true, _) =
            try schema("CREATE RANGE INDEX idx IF NOT EXISTS FOR (n:L) ON (n.a, n.b)")
        else {
            Issue.record("create index")
            return
        }
        guard case .createIndex(nil, .default, .relationship("T"), ["w"], false, _) =
            try schema("CREATE INDEX FOR ()-[r:T]-() ON (r.w)")
        else {
            Issue.record("relationship index")
            return
        }
        guard case .createConstraint("c", .unique, .node("L"), ["p"], true, _) =
            try schema("CREATE CONSTRAINT c IF NOT EXISTS FOR (n:L) REQUIRE n.p IS UNIQUE")
        else {
            Issue.record("create constraint")
            return
        }
        guard case .dropIndex("idx", true, _) = try schema("DROP INDEX idx IF EXISTS"),
            case .dropConstraint("c", false, _) = try schema("DROP CONSTRAINT c")
        else {
            Issue.record("drop by name")
            return
        }
        guard case .show(.indexes, nil, nil, false, nil, _) = try schema("SHOW INDEXES"),
            case .show(.constraints, "ALL", _, _, let w, _) = try schema("SHOW ALL CONSTRAINTS WHERE name = 'x'")
        else {
            Issue.record("show")
            return
        }
        #expect(w != nil)
        #expect(syntaxError("CREATE INDEX FOR (n:L) ON (m.p)") != nil)
        guard case .show(.indexes, nil, let items?, false, nil, _) =
            try schema("SHOW INDEXES YIELD name, type AS t RETURN t, name")
        else {
            Issue.record("SHOW … YIELD … RETURN")
            return
        }
        #expect(items.map(\.variable) == ["t", "name"])
        #expect(syntaxError("SHOW INDEXES YIELD name RETURN toUpper(name)") != nil)
    }
}

@Suite("Cypher syntax error messages")
struct ParserErrorTests {
    @Test("errors point at the offending token with line, column and offset")
    func positions() {
        let e = syntaxError("MATCH (n)\nRETRUN n")
        #expect(e?.code == .syntaxError)
        #expect(e?.message.contains("Invalid input 'RETRUN'") == true)
        #expect(e?.message.contains("(line 2, column 1 (offset: 10))\n\"RETRUN n\"\n ^") == true, "\(e?.message ?? "")")
        let e2 = syntaxError("RETURN 1 +")
        #expect(e2?.message.contains("(line 1, column 11 (offset: 10))") == true, "\(e2?.message ?? "")")
    }

    @Test("incomplete and malformed statements")
    func malformed() {
        for q in [
            "", "MATCH", "MATCH (n RETURN n", "MATCH (n)-[r]->(m RETURN n", "RETURN", "RETURN 1 AS",
            "MATCH (n) WHERE RETURN n", "CREATE (n", "UNWIND [1] x RETURN x", "RETURN [[[]] AS x",
            "RETURN 1 UNION", "MATCH (n) RETURN n LIMIT", "MATCH (n)-[:A|]->() RETURN n",
        ] {
            #expect(syntaxError(q)?.code == .syntaxError, "\(q)")
        }
    }
}


import GraphValues
import Testing

@testable import Cypher

/// Parses and analyses; returns the error, or nil when the statement is accepted.
private func check(_ query: String) -> DatabaseError? {
    do {
        _ = try SemanticAnalyzer.analyze(try CypherParser.parse(query))
        return nil
    } catch let e as DatabaseError {
        return e
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// Expects a compile-time SyntaxError naming `detail`.
private func expectRejected(_ query: String, _ detail: String, code: StatusCode = .syntaxError,
    sourceLocation: SourceLocation = #_sourceLocation)
{
    guard let e = check(query) else {
        Issue.record("accepted: \(query)", sourceLocation: sourceLocation)
        return
    }
    #expect(e.code == code, "\(query): \(e)", sourceLocation: sourceLocation)
    #expect(e.message.contains("(\(detail))"), "\(query): \(e.message)", sourceLocation: sourceLocation)
    #expect(e.message.contains("(line "), "message carries a position: \(e.message)", sourceLocation: sourceLocation)
}

@Suite("Semantic analysis: scoping")
struct SemanticScopingTests {
    @Test("undefined variables are reported with their position")
    func undefined() {
        expectRejected("MATCH (s) WHERE s.name = undefinedVariable RETURN s", "UndefinedVariable")
        expectRejected("RETURN {k1: k2} AS literal", "UndefinedVariable")
        expectRejected("CREATE (b {name: missing}) RETURN b", "UndefinedVariable")
        expectRejected("MERGE (n) ON CREATE SET x.num = 1", "UndefinedVariable")
        expectRejected("MATCH (n) WHERE (n)-[r]->(a) RETURN n", "UndefinedVariable")
        let e = check("MATCH (n)\nRETURN m")
        #expect(e?.message.hasSuffix("(line 2, column 8 (offset: 17))") == true, "\(e?.message ?? "")")
    }

    @Test("WITH limits the scope; DISTINCT and aggregation restrict ORDER BY")
    func withScope() {
        expectRejected("WITH 1 AS a, 2 AS b WITH a RETURN b", "UndefinedVariable")
        expectRejected("MATCH (a) RETURN DISTINCT a.name ORDER BY a.age", "UndefinedVariable")
        expectRejected(
            "MATCH (a:A) WITH a.num2 % 3 AS mod, min(a.num + a.num2) AS min ORDER BY sum(a.num + a.num2) "
                + "LIMIT 2 RETURN mod, min", "UndefinedVariable")
        #expect(check("MATCH (a) RETURN a.name ORDER BY a.age") == nil)
        #expect(check("MATCH (a) RETURN DISTINCT a.name ORDER BY a.name") == nil)
        #expect(check("MATCH (a) WITH DISTINCT a.name AS name WHERE a.name = 'B' RETURN *") == nil)
        #expect(check("MATCH (n) RETURN n.x AS x, count(*) AS c ORDER BY count(*) DESC, x") == nil)
        #expect(check("UNWIND [1, 2] AS x WITH x ORDER BY x DESC LIMIT 1 RETURN x") == nil)
    }

    @Test("comprehension variables are local")
    func locals() {
        #expect(check("RETURN [x IN [1, 2] WHERE x > 1 | x * 2] AS l, all(y IN [1] WHERE y = 1) AS a") == nil)
        expectRejected("RETURN [x IN [1, 2] | x] AS l, x", "UndefinedVariable")
        #expect(check("RETURN reduce(acc = 0, v IN [1, 2] | acc + v) AS s") == nil)
        #expect(check("MATCH (n) RETURN [(n)-[:R]->(m) WHERE m.x > 0 | m.name] AS names") == nil)
    }

    @Test("rebinding is rejected where Cypher forbids it")
    func alreadyBound() {
        expectRejected("MATCH (a) CREATE (a)", "VariableAlreadyBound")
        expectRejected("MATCH (a) CREATE (a {name: 'foo'}) RETURN a", "VariableAlreadyBound")
        expectRejected("CREATE (n:Foo)-[:T1]->(), (n:Bar)-[:T2]->()", "VariableAlreadyBound")
        expectRejected("MATCH (a) MERGE (a)", "VariableAlreadyBound")
        expectRejected("MATCH (p)-->() MATCH p = ()-->() RETURN p", "VariableAlreadyBound")
        expectRejected("UNWIND [1] AS x UNWIND [2] AS x RETURN x", "VariableAlreadyBound")
        expectRejected("CALL db.labels() YIELD label, label AS label RETURN label", "VariableAlreadyBound")
        #expect(check("MATCH (a) CREATE (a)-[:T]->(b) RETURN b") == nil)
        #expect(check("MATCH (a) MERGE (a)-[:T]->(b) RETURN b") == nil)
        #expect(check("MATCH (a)-[r]->(b) MATCH (b)-[r]->(c) RETURN c") == nil)
    }

    @Test("type conflicts between nodes, relationships, paths and values")
    func typeConflicts() {
        expectRejected("MATCH (r) MATCH ()-[r]-() RETURN r", "VariableTypeConflict")
        expectRejected("MATCH r = ()-->() MATCH ()-[r]-() RETURN r", "VariableTypeConflict")
        expectRejected("MATCH (n) WITH [n] AS users MATCH (users)-->(messages) RETURN messages", "VariableTypeConflict")
        expectRejected("WITH true AS r MATCH ()-[r]-() RETURN r", "VariableTypeConflict")
        expectRejected("MATCH (a)-[r]->()-[r]->(a) RETURN r", "RelationshipUniquenessViolation")
    }
}

@Suite("Semantic analysis: aggregation and projection")
struct SemanticAggregationTests {
    @Test("aggregation outside projections is invalid")
    func invalidAggregation() {
        expectRejected("MATCH (a) WHERE count(a) > 10 RETURN a", "InvalidAggregation")
        expectRejected("MATCH (n) RETURN n.num1 ORDER BY max(n.num2)", "InvalidAggregation")
        expectRejected("MATCH (n) RETURN [x IN [1, 2, 3] | count(*)]", "InvalidAggregation")
        expectRejected("MATCH (n) SET n.c = count(*)", "InvalidAggregation")
        expectRejected("RETURN count(count(*))", "NestedAggregation")
        expectRejected("RETURN count(rand())", "NonConstantExpression")
    }

    @Test("implicit grouping keys must be projected on their own")
    func ambiguous() {
        expectRejected("MATCH (me:Person)--(you:Person) RETURN me.age + count(you.age)", "AmbiguousAggregationExpression")
        expectRejected(
            "MATCH (me:Person)--(you:Person) RETURN me.age + you.age, me.age + you.age + count(*)",
            "AmbiguousAggregationExpression")
        #expect(check("MATCH (me:Person)--(you:Person) RETURN me.age, me.age + count(you.age)") == nil)
        #expect(check("MATCH (me:Person)--(you:Person) RETURN me, me.age + count(you.age) AS x") == nil)
        #expect(check("MATCH (n) RETURN n.city AS city, count(*) AS n2, avg(n.age) ORDER BY n2 DESC LIMIT 10") == nil)
    }

    @Test("WITH aliases, column names, RETURN *")
    func projections() {
        expectRejected("MATCH (a) WITH a, count(*) RETURN a", "NoExpressionAlias")
        expectRejected("WITH 1 AS a, 2 AS a RETURN a", "ColumnNameConflict")
        expectRejected("MATCH () RETURN *", "NoVariablesInScope")
        #expect(check("MATCH () CREATE () WITH * CREATE ()") == nil)
    }

    @Test("SKIP and LIMIT take non-negative integer constants")
    func skipLimit() {
        expectRejected("MATCH (n) RETURN n LIMIT n.count", "NonConstantExpression")
        expectRejected("MATCH (n) RETURN n LIMIT -1", "NegativeIntegerArgument")
        expectRejected("MATCH (n) RETURN n SKIP 1.5", "InvalidArgumentType")
        #expect(check("MATCH (n) RETURN n SKIP $s LIMIT toInteger($l)") == nil)
    }
}

@Suite("Semantic analysis: clauses, types and functions")
struct SemanticClauseTests {
    @Test("clause composition")
    func composition() {
        expectRejected("MATCH (n)", "InvalidClauseComposition")
        expectRejected("WITH 1 AS x", "InvalidClauseComposition")
        expectRejected("RETURN 1 AS x RETURN 2 AS y", "InvalidClauseComposition")
        expectRejected("RETURN 1 AS a UNION RETURN 2 AS a UNION ALL RETURN 3 AS a", "InvalidClauseComposition")
        expectRejected("RETURN 1 AS a UNION RETURN 2 AS b", "DifferentColumnsInUnion")
        #expect(check("RETURN 1 AS a UNION ALL RETURN 2 AS a") == nil)
        #expect(check("CREATE (n)") == nil)
        #expect(check("CALL db.labels()") == nil)
    }

    @Test("CREATE needs one type and a direction; MATCH/MERGE take no parameter maps")
    func patterns() {
        expectRejected("CREATE (a)-[:A|B]->(b)", "NoSingleRelationshipType")
        expectRejected("CREATE (a)-[:T]-(b)", "RequiresDirectedRelationship")
        expectRejected("CREATE (a)-[:T*2]->(b)", "CreatingVarLength")
        expectRejected("MATCH ()-[r:FOO $param]->() RETURN r", "InvalidParameterUse")
        expectRejected("MERGE (n $param) RETURN n", "InvalidParameterUse")
        #expect(check("CREATE (n $props) RETURN n") == nil)
        #expect(check("MERGE (a)-[:T]-(b) RETURN a") == nil)
    }

    @Test("static type errors on literals")
    func types() {
        expectRejected("RETURN 123 AND true", "InvalidArgumentType")
        expectRejected("RETURN [] OR false", "InvalidArgumentType")
        expectRejected("RETURN properties(1)", "InvalidArgumentType")
        expectRejected("MATCH (n) RETURN length(n)", "InvalidArgumentType")
        expectRejected("MATCH (n) WHERE (n) RETURN n", "InvalidArgumentType")
        expectRejected("MATCH r = (n)-[*]->() WHERE r.name = 'apa' RETURN r", "InvalidArgumentType")
        expectRejected("RETURN any(x IN ['a'] WHERE x % 2 = 0) AS r", "InvalidArgumentType")
        expectRejected("WITH 123 AS x RETURN x.num", "InvalidArgumentType", code: .typeError)
        expectRejected("MATCH (n) DELETE n:Person", "InvalidDelete")
        expectRejected("MATCH (a) RETURN foo(a)", "UnknownFunction")
        expectRejected("MATCH (n) RETURN (n)-[]->()", "UnexpectedSyntax")
        #expect(check("MATCH (n) WHERE (n)-->() AND NOT (n)<--() RETURN n") == nil)
        #expect(check("MATCH (n) RETURN size([(n)-->() | 1]) AS deg, exists((n)-->()) AS e") == nil)
        #expect(check("RETURN date.truncate('day', date()) AS d, apoc.custom(1) AS c") == nil)
        #expect(check("RETURN 'a' + 1 AS s, [1] + 2 AS l, 1 + 2.0 AS f") == nil)
    }

    @Test("real application queries are accepted")
    func applicationQueries() {
        let queries = [
            "MATCH (p:Person {id:$id}) RETURN p.name, p.age",
            "MATCH (p:Person {id:$id})-[:KNOWS]->()-[:KNOWS]->(fof) RETURN count(DISTINCT fof)",
            "MATCH (p:Person) RETURN p.city, count(*), avg(p.age) ORDER BY count(*) DESC LIMIT 10",
            "MATCH (p:Person {id:$id})-[:KNOWS*1..3]->(x) RETURN count(DISTINCT x)",
            "UNWIND $rows AS r MATCH (a:Person {id:r.s}), (b:Person {id:r.d}) CREATE (a)-[:KNOWS {since:r.y}]->(b)",
            "MERGE (u:User {name: {name}}) ON CREATE SET u.created = timestamp() RETURN u",
            "MATCH (n) OPTIONAL MATCH (n)-[r]->(m) RETURN n, collect(m {.name, rel: type(r)}) AS out",
            "MATCH p = shortestPath((a:A {id: 1})-[*..10]-(b:B {id: 2})) RETURN nodes(p), length(p)",
            "LOAD CSV WITH HEADERS FROM 'file:///people.csv' AS row MERGE (p:Person {id: toInteger(row.id)})",
            "FOREACH (i IN range(1, 3) | CREATE (:N {i: i}))",
            "MATCH (n:L) WITH n, size((n)--()) AS degree WHERE degree > 2 RETURN n ORDER BY degree DESC",
            "CALL db.indexes() YIELD description, state WHERE state = 'ONLINE' RETURN description",
            "MATCH (a)-[r]->(b) WITH type(r) AS t, count(*) AS c RETURN t, c ORDER BY c DESC",
            "MATCH (n) RETURN CASE WHEN n.x > 1 THEN 'big' ELSE 'small' END AS size, n",
            "MATCH (n) WHERE exists(n.name) AND n.name STARTS WITH 'A' RETURN n.name AS name SKIP 10 LIMIT 10",
            "MATCH (n) WHERE EXISTS { MATCH (n)-[:R]->(m) WHERE m.x = 1 } RETURN count(n)",
            "MATCH (n) DETACH DELETE n",
            "MATCH (n:Person) REMOVE n:Person, n.age SET n:Former",
            "EXPLAIN MATCH (n:Person {id: 1}) RETURN n",
            "CALL { MATCH (n) RETURN n } RETURN n",
            "MATCH (n) WITH n.x AS x, collect(n) AS ns UNWIND ns AS n RETURN x, n",
        ]
        for q in queries {
            #expect(check(q) == nil, "\(q): \(check(q)?.message ?? "")")
        }
    }
}

@Suite("Semantic analysis with procedure signatures")
struct SemanticProcedureTests {
    private func registry() -> ProcedureRegistry {
        let r = ProcedureRegistry()
        r.register(
            ProcedureDefinition(
                name: "test.my.proc", parameters: [ProcedureParameter("in", "INTEGER?")],
                outputs: [(name: "out", type: "STRING?")], body: { _, _ in [] }))
        r.register(
            ProcedureDefinition(
                name: "test.float", parameters: [ProcedureParameter("in", "FLOAT?")],
                outputs: [(name: "out", type: "STRING?")], body: { _, _ in [] }))
        return r
    }

    private func check(_ query: String) -> DatabaseError? {
        do {
            _ = try SemanticAnalyzer.analyze(try CypherParser.parse(query), procedures: registry())
            return nil
        } catch let e as DatabaseError {
            return e
        } catch {
            return nil
        }
    }

    @Test("arguments are checked against the signature before execution")
    func arguments() {
        #expect(check("CALL test.my.proc(true)")?.message.contains("(InvalidArgumentType)") == true)
        #expect(check("CALL test.my.proc(true) YIELD out RETURN out")?.code == .syntaxError)
        #expect(check("CALL test.my.proc(1, 2)")?.message.contains("(InvalidNumberOfArguments)") == true)
        #expect(
            check("CALL test.my.proc YIELD out RETURN out")?.message.contains("(InvalidArgumentPassingMode)") == true)
        #expect(check("CALL test.my.proc(1) YIELD nope RETURN nope")?.code == .syntaxError)
        #expect(check("CALL test.my.proc") == nil)
        #expect(check("CALL test.my.proc(null)") == nil)
        #expect(check("CALL test.float(42) YIELD out RETURN out") == nil)
        #expect(check("CALL test.my.proc($x) YIELD out RETURN out") == nil)
        #expect(check("CALL unknown.proc(1)") == nil)
    }
}

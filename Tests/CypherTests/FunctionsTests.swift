import GraphValues
import Testing

@testable import Cypher

@Suite("Functions and value semantics")
struct FunctionsTests {
    let db = TestDatabase()

    @Test("three-valued logic for comparisons, IN and boolean operators")
    func threeValued() throws {
        #expect(try db.scalar("RETURN null = null") == .null)
        #expect(try db.scalar("RETURN 1 = 1.0") == .boolean(true))
        #expect(try db.scalar("RETURN [1, null] = [1, 2]") == .null)
        #expect(try db.scalar("RETURN [1, null] = [2, 2]") == .boolean(false))
        #expect(try db.scalar("RETURN 2 IN [1, null]") == .null)
        #expect(try db.scalar("RETURN 1 IN [1, null]") == .boolean(true))
        #expect(try db.scalar("RETURN null AND false") == .boolean(false))
        #expect(try db.scalar("RETURN null OR true") == .boolean(true))
        #expect(try db.scalar("RETURN 1 < 'a'") == .null)
    }

    @Test("ORDER BY follows the global order across types, nulls last")
    func globalOrder() throws {
        let rows = try db.run("UNWIND [1, 'a', null, true, [1], {k: 1}, 2.5] AS x RETURN x ORDER BY x")
        #expect(rows.map { $0[0] } == [.map(["k": .integer(1)]), .list([.integer(1)]), .string("a"),
                                       .boolean(true), .integer(1), .float(2.5), .null])
    }

    @Test("DISTINCT and grouping treat 1 and 1.0 as one key but keep the first value's type")
    func grouping() throws {
        #expect(try db.run("UNWIND [1, 1.0, 2] AS x RETURN DISTINCT x") == [[.integer(1)], [.integer(2)]])
        #expect(try db.run("UNWIND [1, 1.0] AS x RETURN x, count(*)") == [[.integer(1), .integer(2)]])
    }

    @Test("string functions")
    func strings() throws {
        #expect(try db.scalar("RETURN toUpper('abc') + toLower('DEF')") == .string("ABCdef"))
        #expect(try db.scalar("RETURN substring('hello', 1, 3)") == .string("ell"))
        #expect(try db.scalar("RETURN split('a,b,,c', ',')") ==
            .list([.string("a"), .string("b"), .string(""), .string("c")]))
        #expect(try db.scalar("RETURN replace('aXbX', 'X', '-')") == .string("a-b-"))
        #expect(try db.scalar("RETURN trim('  x ') + left('abc', 2) + right('abc', 1)") == .string("xabc"))
        #expect(try db.scalar("RETURN reverse('abc')") == .string("cba"))
        #expect(try db.scalar("RETURN 'abc' STARTS WITH 'ab' AND 'abc' ENDS WITH 'bc' AND 'abc' CONTAINS 'b'") ==
            .boolean(true))
        #expect(try db.scalar("RETURN 'abc' =~ 'a.c'") == .boolean(true))
    }

    @Test("math functions")
    func math() throws {
        #expect(try db.scalar("RETURN abs(-3)") == .integer(3))
        #expect(try db.scalar("RETURN sqrt(16)") == .float(4))
        #expect(try db.scalar("RETURN round(2.5)") == .float(3))
        #expect(try db.scalar("RETURN sign(-2.0)") == .integer(-1))
        #expect(try db.scalar("RETURN 2 ^ 10") == .float(1024))
        #expect(try db.scalar("RETURN 7 % 3") == .integer(1))
        #expect(try db.scalar("RETURN floor(log10(1000))") == .float(3))
        #expect(try db.scalar("RETURN degrees(pi())") == .float(180))
    }

    @Test("type conversions")
    func conversions() throws {
        #expect(try db.scalar("RETURN toInteger('42')") == .integer(42))
        #expect(try db.scalar("RETURN toInteger(3.9)") == .integer(3))
        #expect(try db.scalar("RETURN toInteger('x')") == .null)
        #expect(try db.scalar("RETURN toFloat('1.5')") == .float(1.5))
        #expect(try db.scalar("RETURN toBoolean('TRUE')") == .boolean(true))
        #expect(try db.scalar("RETURN toString(1.0)") == .string("1.0"))
        #expect(try db.scalar("RETURN toString(true)") == .string("true"))
    }

    @Test("list functions, comprehensions and quantifiers")
    func lists() throws {
        #expect(try db.scalar("RETURN range(0, 10, 3)") == .list([0, 3, 6, 9].map { .integer($0) }))
        #expect(try db.scalar("RETURN head([1, 2]) + last([1, 2])") == .integer(3))
        #expect(try db.scalar("RETURN tail([1, 2, 3])") == .list([.integer(2), .integer(3)]))
        #expect(try db.scalar("RETURN size([1, 2, 3])") == .integer(3))
        #expect(try db.scalar("RETURN [x IN range(1, 5) WHERE x % 2 = 1 | x * 10]") ==
            .list([.integer(10), .integer(30), .integer(50)]))
        #expect(try db.scalar("RETURN reduce(s = 0, x IN [1, 2, 3] | s + x)") == .integer(6))
        #expect(try db.scalar("RETURN all(x IN [1, 2] WHERE x > 0)") == .boolean(true))
        #expect(try db.scalar("RETURN single(x IN [1, 2] WHERE x > 1)") == .boolean(true))
        #expect(try db.scalar("RETURN none(x IN [1, 2] WHERE x > 5)") == .boolean(true))
        #expect(try db.scalar("RETURN coalesce(null, 2, 3)") == .integer(2))
        #expect(try db.scalar("RETURN [1, 2, 3][-1]") == .integer(3))
    }

    @Test("aggregations: avg, min, max, collect, percentiles, stDev")
    func aggregations() throws {
        let r = try db.run("""
            UNWIND [1, 2, 3, 4] AS x
            RETURN avg(x), min(x), max(x), collect(x), percentileDisc(x, 0.5), percentileCont(x, 0.5), stDevP(x)
            """)
        #expect(r == [[.float(2.5), .integer(1), .integer(4), .list([1, 2, 3, 4].map { .integer($0) }), .integer(2),
                       .float(2.5), .float(1.118033988749895)]])
        #expect(try db.scalar("UNWIND [] AS x RETURN sum(x)") == .integer(0))
        #expect(try db.scalar("UNWIND [] AS x RETURN avg(x)") == .null)
    }

    @Test("entity and path functions")
    func entities() throws {
        try db.run("CREATE (:A {x: 1})-[:T {w: 2}]->(:B)")
        #expect(try db.run("MATCH (a)-[r]->(b) RETURN labels(a), type(r), keys(a), properties(r)") ==
            [[.list([.string("A")]), .string("T"), .list([.string("x")]), .map(["w": .integer(2)])]])
        #expect(try db.scalar("MATCH p = (:A)-->() RETURN length(p)") == .integer(1))
        #expect(try db.scalar("MATCH (a)-[r]->() RETURN id(startNode(r)) = id(a)") == .boolean(true))
        #expect(try db.scalar("MATCH (a:A) RETURN exists(a.x) AND NOT exists(a.y)") == .boolean(true))
    }

    @Test("error classes follow the TCK")
    func errorClasses() {
        #expect(db.errorCode("RETURN range(1, 2, 0)") == "Neo.ClientError.Statement.ArgumentError")
        #expect(db.errorCode("RETURN percentileCont(1, 2)") == "Neo.ClientError.Statement.ArgumentError")
        #expect(db.errorCode("RETURN toUpper(1)") == "Neo.ClientError.Statement.TypeError")
        #expect(db.errorCode("RETURN -9223372036854775807 - 2") == "Neo.ClientError.Statement.ArithmeticError")
        #expect(db.errorCode("RETURN 9223372036854775807 * 2") == "Neo.ClientError.Statement.ArithmeticError")
        #expect(db.errorCode("UNWIND [1] AS x RETURN sum('a')") == "Neo.ClientError.Statement.TypeError")
    }
}

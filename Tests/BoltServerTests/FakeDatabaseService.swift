import Foundation
import GraphValues
import Synchronization
import TrellisService

/// A scripted `DatabaseService` for driving the Bolt server without Cypher. Queries are keywords:
/// - `RETURN 1 AS x`: one row.
/// - `ROWS n [size]`: n lazy rows `[i, <size-byte string>]`; `rowsProduced` counts how many were pulled.
/// - `ECHO`: one row with parameter `v`.
/// - `CREATE`: a write with statistics.
/// - `FAIL <code>`: throws that status code at RUN.
/// - `FAILPULL`: throws on the first `next()`.
/// - `SLEEP`: `next()` blocks until interrupted (or 10 s), then throws Terminated.
/// - `VALUES`: one row of every value kind.
/// - `QUICK n`: answered by `runBoundedRead` (n rows `[i]`, or `.unsuitable` beyond `maxRows`); `run` gives
///   the default row. `SLOWQUICK`: `runBoundedRead` says `.unsuitable`. Each attempt is logged as `BOUNDED …`.
final class FakeDatabaseService: DatabaseService, @unchecked Sendable {
    let serverAgent = "Neo4j/5.26.0"
    let authEnabled: Bool
    let rowsProduced = Atomic<Int>(0)
    let openSessions = Atomic<Int>(0)
    let bookmarkCounter = Atomic<Int>(0)
    let lock = NSLock()
    private var _log: [String] = []

    init(authEnabled: Bool = true) {
        self.authEnabled = authEnabled
    }

    var log: [String] { lock.withLock { _log } }
    func record(_ entry: String) { lock.withLock { _log.append(entry) } }

    func authenticate(scheme: String, principal: String?, credentials: String?) throws -> AuthenticatedUser {
        if !authEnabled { return AuthenticatedUser(username: principal ?? "", roles: ["admin"],
            passwordChangeRequired: false) }
        guard scheme == "basic", principal == "neo4j", credentials == "secret" else {
            throw DatabaseError(.unauthorized, "The client is unauthorized due to authentication failure.")
        }
        return AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false)
    }

    func openSession(user: AuthenticatedUser) -> DatabaseSession {
        openSessions.add(1, ordering: .relaxed)
        return FakeSession(service: self, user: user)
    }

    func routingTable(context: [String: String], database: String?) throws -> RoutingTable {
        let me = context["address"] ?? "127.0.0.1:7687"
        return RoutingTable(ttlSeconds: 300, writers: [me], readers: [me], routers: [me],
            database: database ?? "neo4j")
    }

    func nextBookmark() -> String {
        "fake-bm:\(bookmarkCounter.add(1, ordering: .relaxed).newValue)"
    }
}

final class FakeSession: DatabaseSession, @unchecked Sendable {
    let service: FakeDatabaseService
    let user: AuthenticatedUser
    var inTransaction = false
    let interrupted = Atomic<Bool>(false)
    var closed = false

    init(service: FakeDatabaseService, user: AuthenticatedUser) {
        self.service = service
        self.user = user
    }

    func beginTransaction(_ options: TransactionOptions) throws {
        service.record("BEGIN \(options.mode.rawValue) \(options.bookmarks) \(options.database ?? "-")"
            + " \(options.timeout.map { "\($0)" } ?? "-")")
        inTransaction = true
    }

    func run(_ query: String, parameters: [String: Value], options: TransactionOptions) throws -> ResultCursor {
        interrupted.store(false, ordering: .relaxed)
        service.record("RUN \(query)")
        let words = query.split(separator: " ")
        let autoCommit = !inTransaction
        let bookmark = autoCommit ? service.nextBookmark() : nil
        switch words.first {
        case "FAIL":
            let code = words.count > 1 ? String(words[1]) : "Neo.ClientError.Statement.SyntaxError"
            throw DatabaseError(StatusCode(code), "injected \(code)")
        case "ROWS":
            // Fuzzed queries may mangle the numbers: fall back to small values.
            let n = min(max(words.count > 1 ? Int(words[1]) ?? 1 : 1, 0), 1_000_000)
            let size = words.count > 2 ? min(max(Int(words[2]) ?? 0, 0), 1 << 20) : 0
            let pad = String(repeating: "x", count: size)
            var i = 0
            return FakeCursor(columns: ["i", "s"], bookmark: bookmark) { [service] in
                guard i < n else { return nil }
                i += 1
                service.rowsProduced.add(1, ordering: .relaxed)
                return [.integer(Int64(i)), .string(pad)]
            }
        case "ECHO":
            return FakeCursor(rows: [[parameters["v"] ?? .null]], columns: ["v"], bookmark: bookmark)
        case "CREATE":
            var summary = ResultSummary()
            summary.queryType = .writeOnly
            summary.statistics.nodesCreated = 1
            summary.statistics.propertiesSet = 2
            return FakeCursor(rows: [], columns: [], bookmark: bookmark, summary: summary)
        case "FAILPULL":
            return FakeCursor(columns: ["x"], bookmark: bookmark) {
                throw DatabaseError(.arithmeticError, "/ by zero")
            }
        case "SLEEP":
            return FakeCursor(columns: ["x"], bookmark: bookmark) { [self] in
                let deadline = Date().addingTimeInterval(10)
                while !self.interrupted.load(ordering: .relaxed) && Date() < deadline {
                    usleep(1000)
                }
                throw DatabaseError(.transactionTerminated, "The transaction has been terminated.")
            }
        case "VALUES":
            return FakeCursor(rows: [FakeData.values], columns: FakeData.values.indices.map { "c\($0)" },
                bookmark: bookmark)
        default:
            return FakeCursor(rows: [[.integer(1)]], columns: ["x"], bookmark: bookmark)
        }
    }

    func runBoundedRead(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration
    ) -> BoundedReadOutcome {
        let words = query.split(separator: " ")
        switch words.first {
        case "QUICK":
            service.record("BOUNDED \(query) \(maxRows)")
            let n = words.count > 1 ? Int(words[1]) ?? 1 : 1
            guard n <= maxRows else { return .unsuitable }
            var summary = ResultSummary()
            summary.bookmark = service.nextBookmark()
            return .completed(CompletedResult(
                columns: ["i"], rows: (0..<n).map { [.integer(Int64($0))] }, summary: summary))
        case "SLOWQUICK":
            service.record("BOUNDED \(query) \(maxRows)")
            return .unsuitable
        default:
            return .unavailable
        }
    }

    func commit() throws -> String {
        inTransaction = false
        service.record("COMMIT")
        return service.nextBookmark()
    }

    func rollback() throws {
        inTransaction = false
        service.record("ROLLBACK")
    }

    func reset() {
        inTransaction = false
    }

    func interrupt() {
        interrupted.store(true, ordering: .relaxed)
    }

    func close() {
        precondition(!closed, "session closed twice")
        closed = true
        service.openSessions.subtract(1, ordering: .relaxed)
    }
}

final class FakeCursor: ResultCursor {
    let columns: [String]
    let produce: () throws -> [Value]?
    var result: ResultSummary

    init(columns: [String], bookmark: String?, summary: ResultSummary = ResultSummary(),
        produce: @escaping () throws -> [Value]?)
    {
        self.columns = columns
        self.produce = produce
        self.result = summary
        self.result.bookmark = bookmark
    }

    convenience init(rows: [[Value]], columns: [String], bookmark: String?, summary: ResultSummary = ResultSummary())
    {
        var iterator = rows.makeIterator()
        self.init(columns: columns, bookmark: bookmark, summary: summary) { iterator.next() }
    }

    func next() throws -> [Value]? { try produce() }

    func discardRemaining() throws {
        while try produce() != nil {}
    }

    func summary() throws -> ResultSummary { result }
}

enum FakeData {
    static let alice = NodeValue(id: 7, labels: ["Person"], properties: ["name": .string("Alice")])
    static let bob = NodeValue(id: 8, labels: ["Person"], properties: ["name": .string("Bob")])
    static let knows = RelationshipValue(id: 10, startNodeId: 7, endNodeId: 8, type: "KNOWS", properties: [:])
    static let values: [Value] = [
        .null, .boolean(true), .integer(-200), .float(1.25), .string("é"), .bytes([1, 2]),
        .list([.integer(1), .string("a")]), .map(["k": .integer(1)]), .node(alice), .relationship(knows),
        .path(PathValue(nodes: [alice, bob], relationships: [knows])), .date(CypherDate(epochDays: 19000)),
        .dateTime(CypherDateTime(epochSeconds: 4500, nanosecond: 0, offsetSeconds: 3600, zoneId: nil)),
        .point(CypherPoint(srid: 7203, x: 1, y: 2)),
    ]
}

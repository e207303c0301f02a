import Foundation
import GraphValues
import Logging
import Testing
import TrellisService

@testable import TrellisServer

@Suite("DatabaseService sessions and transactions")
struct ServiceTests {
    let dir: TemporaryDirectory
    let engine = FakeEngine()
    let service: TrellisDatabaseService

    init() throws {
        dir = try TemporaryDirectory()
        let config = try Config(home: dir.path, overrides: ["dbms.connectors.default_advertised_address": "db.test"])
        let auth = try AuthManager(
            enabled: true, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"))
        service = TrellisDatabaseService(
            engine: engine, auth: auth, config: config, logger: Logger(label: "test"), queryLog: nil,
            bookmarkWaitTimeout: .milliseconds(50))
    }

    func admin() throws -> DatabaseSession {
        let session = service.openSession(
            user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
        return session
    }

    func drain(_ c: ResultCursor) throws -> [[Value]] {
        var rows: [[Value]] = []
        while let r = try c.next() { rows.append(r) }
        return rows
    }

    @Test("an auto-commit statement commits once consumed and returns a bookmark")
    func autoCommit() throws {
        let s = try admin()
        let c = try s.run("CREATE", parameters: [:], options: TransactionOptions())
        #expect(engine.committedCount == 0, "nothing is committed before the result is consumed")
        #expect(try drain(c).isEmpty)
        #expect(engine.committedCount == 1)
        let summary = try c.summary()
        #expect(summary.bookmark == "FB:trellis:tx:2")
        #expect(service.openTransactionCount == 0)
    }

    @Test("discarding an auto-commit write still commits it")
    func discardCommits() throws {
        let s = try admin()
        try s.run("CREATE", parameters: [:], options: TransactionOptions()).discardRemaining()
        #expect(engine.committedCount == 1)
    }

    @Test("rows are pulled lazily from the engine")
    func lazy() throws {
        let s = try admin()
        let c = try s.run("ROWS 1000000", parameters: [:], options: TransactionOptions())
        #expect(try c.next() == [.integer(1)])
        #expect(try c.next() == [.integer(2)])
        try c.discardRemaining()
        #expect(try c.summary().queryType == .readOnly)
    }

    @Test("explicit transactions: commit makes changes visible, rollback discards them")
    func explicit() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions())
        _ = try drain(try s.run("CREATE", parameters: [:], options: TransactionOptions()))
        #expect(try drain(try s.run("COUNT", parameters: [:], options: TransactionOptions())) == [[.integer(1)]])
        #expect(engine.committedCount == 0)
        let bookmark = try s.commit()
        #expect(bookmark == "FB:trellis:tx:2")
        #expect(engine.committedCount == 1)
        try s.beginTransaction(TransactionOptions())
        _ = try drain(try s.run("CREATE", parameters: [:], options: TransactionOptions()))
        try s.rollback()
        #expect(engine.committedCount == 1)
        #expect(service.openTransactionCount == 0)
    }

    @Test("commit runs unconsumed results of the transaction to completion; a new RUN keeps earlier results")
    func commitConsumes() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions())
        let rows = try s.run("ROWS 3", parameters: [:], options: TransactionOptions())
        _ = try s.run("CREATE", parameters: [:], options: TransactionOptions())
        #expect(try rows.next() == [.integer(1)], "the first result still streams after the second RUN")
        _ = try s.commit()
        #expect(engine.committedCount == 1)
    }

    @Test("running statements are listed while they stream and forgotten once done, however they end")
    func runningQueries() throws {
        let s = try admin()
        let c = try s.run("ROWS 5", parameters: [:], options: TransactionOptions(metadata: ["app": .string("x")]))
        _ = try c.next()
        let listed = service.runningQueries()
        #expect(listed.map(\.query) == ["ROWS 5"])
        #expect(listed.first?.metadata == ["app": .string("x")])
        #expect(service.openTransactions().first?.currentQuery == "ROWS 5")
        _ = try drain(c)
        #expect(service.runningQueries().isEmpty)
        try s.beginTransaction(TransactionOptions())
        _ = try s.run("ROWS 5", parameters: [:], options: TransactionOptions())
        _ = try s.run("ROWS 5", parameters: [:], options: TransactionOptions())
        #expect(service.runningQueries().count == 2)
        try s.rollback()
        #expect(service.runningQueries().isEmpty)
        let killed = try s.run("ROWS 5", parameters: [:], options: TransactionOptions())
        let id = try #require(service.runningQueries().first?.id)
        #expect(try service.killQuery(id, by: "neo4j", isAdmin: true) == "neo4j")
        #expect(throws: DatabaseError.self) { try drain(killed) }
        #expect(service.runningQueries().isEmpty && service.openTransactionCount == 0)
        #expect(try service.killQuery("query-12345", by: "neo4j", isAdmin: true) == nil)
    }

    @Test("an error rolls the explicit transaction back; committing it afterwards fails")
    func errorRollsBack() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions())
        _ = try drain(try s.run("CREATE", parameters: [:], options: TransactionOptions()))
        let e = #expect(throws: DatabaseError.self) { try s.run("NONSENSE", parameters: [:], options: TransactionOptions()) }
        #expect(e?.code == .syntaxError)
        #expect(throws: DatabaseError.self) { try s.commit() }
        #expect(engine.committedCount == 0)
        #expect(service.openTransactionCount == 0)
        // The session is usable again.
        _ = try drain(try s.run("CREATE", parameters: [:], options: TransactionOptions()))
        #expect(engine.committedCount == 1)
    }

    @Test("an error while streaming an auto-commit result rolls it back")
    func streamingError() throws {
        let s = try admin()
        let c = try s.run("BREAK", parameters: [:], options: TransactionOptions())
        let e = #expect(throws: DatabaseError.self) { try drain(c) }
        #expect(e?.code == .arithmeticError)
        #expect(service.openTransactionCount == 0)
    }

    @Test("a read session refuses writes with AccessMode")
    func readSession() throws {
        let s = try admin()
        let e = #expect(throws: DatabaseError.self) {
            try s.run("CREATE", parameters: [:], options: TransactionOptions(mode: .read))
        }
        #expect(e?.code == .accessMode)
        #expect(engine.state.withLock { $0.begun.last?.accessMode } == .read)
    }

    @Test("roles reach the engine as permissions")
    func permissions() throws {
        let reader = service.openSession(
            user: AuthenticatedUser(username: "r", roles: ["reader"], passwordChangeRequired: false))
        #expect(throws: DatabaseError.self) { try reader.run("CREATE", parameters: [:], options: TransactionOptions()) }
        #expect(engine.state.withLock { $0.begun.last?.permissions } == [.read])
    }

    @Test("an explicit transaction past its time-out fails with TransactionTimedOut")
    func timeout() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions(timeout: .milliseconds(30)))
        usleep(60_000)
        let e = #expect(throws: DatabaseError.self) { try s.run("COUNT", parameters: [:], options: TransactionOptions()) }
        #expect(e?.code == .transactionTimedOut)
        #expect(service.openTransactionCount == 0)
    }

    @Test("bookmarks: ours are waited for, foreign text is InvalidBookmark, a future one times out")
    func bookmarks() throws {
        let s = try admin()
        let ok = try s.run("COUNT", parameters: [:], options: TransactionOptions(bookmarks: ["FB:trellis:tx:1"]))
        #expect(try drain(ok) == [[.integer(0)]])
        let bad = #expect(throws: DatabaseError.self) {
            try s.run("COUNT", parameters: [:], options: TransactionOptions(bookmarks: ["neo4j:bookmark:v1:tx5"]))
        }
        #expect(bad?.code == .invalidBookmark)
        let future = #expect(throws: DatabaseError.self) {
            try s.run("COUNT", parameters: [:], options: TransactionOptions(bookmarks: ["FB:trellis:tx:99"]))
        }
        #expect(future?.code == .bookmarkTimeout)
        #expect(future?.code.isTransient == true)
    }

    @Test("until the password is changed every statement fails with CredentialsExpired")
    func credentialsExpired() throws {
        let user = try service.authenticate(scheme: "basic", principal: "neo4j", credentials: "neo4j")
        #expect(user.passwordChangeRequired)
        let s = service.openSession(user: user)
        let e = #expect(throws: DatabaseError.self) { try s.run("COUNT", parameters: [:], options: TransactionOptions()) }
        #expect(e?.code == .credentialsExpired)
        let wrongOld = #expect(throws: DatabaseError.self) {
            try s.run("ALTER CURRENT USER SET PASSWORD FROM 'nope' TO 'x'", parameters: [:], options: TransactionOptions())
        }
        #expect(wrongOld?.code == .invalidRequest)
        let c = try s.run(
            "ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
            parameters: ["old": .string("neo4j"), "new": .string("n3w")], options: TransactionOptions())
        #expect(try c.summary().statistics.systemUpdates == 1)
        let me = try s.run("SHOW CURRENT USER", parameters: [:], options: TransactionOptions())
        #expect(try drain(me) == [[.string("neo4j"), .list([.string("admin")]), .boolean(false), .boolean(false), .null]])
        #expect(!s.user.passwordChangeRequired)
        #expect(try drain(try s.run("COUNT", parameters: [:], options: TransactionOptions())) == [[.integer(0)]])
        #expect(try !service.authenticate(scheme: "basic", principal: "neo4j", credentials: "n3w").passwordChangeRequired)
    }

    @Test("the routing table lists this instance for every role at the advertised address")
    func routing() throws {
        let table = try service.routingTable(context: ["address": "127.0.0.1:7687"], database: nil)
        #expect(table.writers == ["db.test:7687"])
        #expect(table.readers == ["db.test:7687"])
        #expect(table.routers == ["db.test:7687"])
        #expect(table.database == "neo4j")
        #expect(table.ttlSeconds > 0)
        #expect(try service.routingTable(context: [:], database: "system").database == "neo4j")
        let e = #expect(throws: DatabaseError.self) { try service.routingTable(context: [:], database: "other") }
        #expect(e?.code.rawValue == "Neo.ClientError.Database.DatabaseNotFound")
    }

    @Test("reset rolls back the open transaction")
    func reset() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions())
        _ = try drain(try s.run("CREATE", parameters: [:], options: TransactionOptions()))
        s.reset()
        #expect(engine.committedCount == 0)
        #expect(service.openTransactionCount == 0)
        let c = try s.run("ROWS 10", parameters: [:], options: TransactionOptions())
        _ = try c.next()
        s.reset()
        #expect(service.openTransactionCount == 0)
    }

    @Test("interrupt terminates the running statement")
    func interrupt() throws {
        let s = try admin()
        let c = try s.run("ROWS 100", parameters: [:], options: TransactionOptions())
        _ = try c.next()
        s.interrupt()
        let e = #expect(throws: DatabaseError.self) { try c.next() }
        #expect(e?.code == .transactionTerminated)
        #expect(service.openTransactionCount == 0)
    }

    @Test("shutdown refuses new transactions with a transient error and shuts the engine down")
    func shutdown() throws {
        let s = try admin()
        try s.beginTransaction(TransactionOptions())
        service.shutdown(grace: .milliseconds(20))
        #expect(engine.state.withLock { $0.shutDown })
        let e = #expect(throws: DatabaseError.self) { try admin().run("COUNT", parameters: [:], options: TransactionOptions()) }
        #expect(e?.code.isTransient == true)
    }
}

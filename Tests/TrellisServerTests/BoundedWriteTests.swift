import Cypher
import Foundation
import GraphKernel
import GraphValues
import Testing
import TrellisService

@testable import TrellisServer

/// `DatabaseSession.runBoundedStatement` with writes, through the service, the Cypher engine and the kernel: what
/// Bolt runs on its event loop (docs/bolt.md "How it runs") must be a cached graph write that waits for no other
/// transaction, whose result is returned only once its commit is durable, and a refused attempt must leave
/// nothing behind.
@Suite("Bounded writes: cached graph writes that wait for no lock, answered only after their log sync")
struct BoundedWriteTests {
    static let admin = AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false)

    @discardableResult
    static func run(_ s: DatabaseSession, _ query: String, _ parameters: [String: Value] = [:]) throws -> [[Value]] {
        let cursor = try s.run(query, parameters: parameters, options: TransactionOptions())
        var rows: [[Value]] = []
        while let r = try cursor.next() { rows.append(r) }
        return rows
    }

    static func bounded(
        _ s: DatabaseSession, _ query: String, _ parameters: [String: Value] = [:], budget: Duration = .seconds(10),
        reads: Bool = true, writes: Bool = true
    ) -> BoundedReadOutcome {
        s.runBoundedStatement(
            query, parameters: parameters, options: TransactionOptions(), maxRows: 1000, budget: budget,
            reads: reads, writes: writes)
    }

    static let create = "CREATE (:Person {id: $id, name: $name})"
    static func person(_ id: Int64) -> [String: Value] { ["id": .integer(id), "name": .string("p\(id)")] }
    static func count(_ s: DatabaseSession, _ id: Int64) throws -> [[Value]] {
        try run(s, "MATCH (p:Person {id: $id}) RETURN count(p)", ["id": .integer(id)])
    }

    @Test("a cached CREATE commits with its counters and bookmark; not before it is cached, not with writes off")
    func cachedWriteCompletes() throws {
        let fixture = try CypherServiceFixture()
        let s = fixture.service.openSession(user: Self.admin)
        guard case .unavailable = Self.bounded(s, Self.create, Self.person(1)) else {
            Issue.record("an uncached statement must not be planned on the caller's thread")
            return
        }
        try Self.run(s, Self.create, Self.person(1))
        guard case .unavailable = Self.bounded(s, Self.create, Self.person(2), writes: false) else {
            Issue.record("a write ran with writes off")
            return
        }
        guard case .completed(let done) = Self.bounded(s, Self.create, Self.person(2), reads: false) else {
            Issue.record("a cached CREATE was not completed")
            return
        }
        #expect(done.rows.isEmpty)
        #expect(done.summary.queryType == .writeOnly)
        #expect(done.summary.statistics.nodesCreated == 1)
        #expect(done.summary.statistics.propertiesSet == 2)
        #expect(done.summary.bookmark == "FB:trellis:tx:\(fixture.database.lastCommittedTransaction)")
        #expect(fixture.service.openTransactionCount == 0)
        let other = fixture.service.openSession(user: Self.admin)
        #expect(try Self.run(other, "MATCH (p:Person {id: 2}) RETURN p.name") == [[.string("p2")]])
        // A read with reads off is not run either.
        try Self.count(s, 1)
        guard case .unavailable = Self.bounded(s, "MATCH (p:Person {id: $id}) RETURN count(p)", ["id": .integer(1)],
                                               reads: false)
        else {
            Issue.record("a read ran with reads off")
            return
        }
    }

    @Test("a lock held by another transaction refuses the statement at once, and nothing is written")
    func heldLockRefusesAtOnce() throws {
        let fixture = try CypherServiceFixture()
        let s = fixture.service.openSession(user: Self.admin)
        let holder = fixture.service.openSession(user: Self.admin)
        try Self.run(s, "CREATE CONSTRAINT ON (p:Person) ASSERT p.id IS UNIQUE")
        try Self.run(s, Self.create, Self.person(1))
        let touch = "MATCH (p:Person {id: $id}) SET p.seen = $seen"
        try Self.run(s, touch, ["id": .integer(1), "seen": .integer(1)])
        // The holder's open transaction has the node's exclusive lock.
        try holder.beginTransaction(TransactionOptions())
        try Self.run(holder, touch, ["id": .integer(1), "seen": .integer(2)])
        // With a 10 s budget, a wait would end in `.unsuitable` after 10 s; not waiting gives `.unavailable` now.
        guard case .unavailable = Self.bounded(s, touch, ["id": .integer(1), "seen": .integer(3)]) else {
            Issue.record("a write waited for (or took) a lock held by another transaction")
            return
        }
        #expect(fixture.service.openTransactionCount == 1)
        try holder.rollback()
        #expect(try Self.run(s, "MATCH (p:Person {id: 1}) RETURN p.seen") == [[.integer(1)]])
        guard case .completed = Self.bounded(s, touch, ["id": .integer(1), "seen": .integer(3)]) else {
            Issue.record("the write was refused after the lock holder ended")
            return
        }
        #expect(try Self.run(s, "MATCH (p:Person {id: 1}) RETURN p.seen") == [[.integer(3)]])
        // A constraint violation is left to the worker, which reports it; nothing is written here.
        guard case .unavailable = Self.bounded(s, Self.create, Self.person(1)) else {
            Issue.record("a constraint violation was not refused")
            return
        }
        #expect(try Self.count(s, 1) == [[.integer(1)]])
        #expect(fixture.service.openTransactionCount == 0)
    }

    @Test("schema statements and procedure calls never qualify; a spent budget is unsuitable and writes nothing")
    func refusalsAndBudget() throws {
        let fixture = try CypherServiceFixture()
        let s = fixture.service.openSession(user: Self.admin)
        let schema = "CREATE INDEX ON :Person(name)"
        let procedure = "CREATE (n:Tagged) WITH n CALL db.labels() YIELD label RETURN label"
        try Self.run(s, schema)
        try Self.run(s, procedure)
        guard case .unavailable = Self.bounded(s, schema) else {
            Issue.record("a schema statement ran as a bounded write")
            return
        }
        guard case .unavailable = Self.bounded(s, procedure) else {
            Issue.record("a write calling a procedure ran as a bounded write")
            return
        }
        try Self.run(s, Self.create, Self.person(1))
        let before = fixture.database.counters.snapshot
        // A 1 ns kernel time-out has passed by the statement's first operation, whatever the machine's speed.
        guard case .unsuitable = Self.bounded(s, Self.create, Self.person(2), budget: .nanoseconds(1)) else {
            Issue.record("a write past its budget was not refused")
            return
        }
        let after = fixture.database.counters.snapshot
        #expect(after.terminatedWrite == before.terminatedWrite)
        #expect(try Self.count(s, 2) == [[.integer(0)]])
        #expect(try Self.run(s, "MATCH (n:Tagged) RETURN count(n)") == [[.integer(1)]])
        #expect(fixture.service.openTransactionCount == 0)
    }

    @Test("the statement does not return, and its node is not visible, until its commit's log sync has finished")
    func returnsOnlyAfterTheSync() async throws {
        let disk = GatedLogFileSystem()
        let fixture = try CypherServiceFixture(logFileSystem: disk)
        let s = fixture.service.openSession(user: Self.admin)
        let other = fixture.service.openSession(user: Self.admin)
        try Self.run(s, Self.create, Self.person(1))
        disk.hold()
        let outcome = OutcomeBox()
        nonisolated(unsafe) let session = s
        let thread = Thread {
            disk.setCommitter()
            outcome.set(Self.bounded(session, Self.create, Self.person(2)))
        }
        thread.start()
        // The committing thread leads its own group-commit sync (no other commit runs).
        #expect(await eventually(30) { disk.committerIsSyncing })
        #expect(outcome.get() == nil, "the statement returned while its sync was held")
        #expect(try Self.count(other, 2) == [[.integer(0)]])
        disk.release()
        #expect(await eventually(30) { outcome.get() != nil })
        guard case .completed(let done) = outcome.get() else {
            Issue.record("the write did not complete after its sync")
            return
        }
        #expect(done.summary.statistics.nodesCreated == 1)
        #expect(try Self.count(other, 2) == [[.integer(1)]])
    }
}

/// What the committing thread got, read by the test.
final class OutcomeBox: @unchecked Sendable {
    let lock = NSLock()
    var value: BoundedReadOutcome?
    func set(_ outcome: BoundedReadOutcome) { lock.withLock { value = outcome } }
    func get() -> BoundedReadOutcome? { lock.withLock { value } }
}

/// Polls `condition` every 10 ms for at most `seconds`.
func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// The real disk, except that while `hold()` is in force every log sync waits for `release()` (a slow sync).
/// `committerIsSyncing` tells whether the thread that called `setCommitter()` is waiting in one.
final class GatedLogFileSystem: LogFileSystem, @unchecked Sendable {
    let base = PosixFileSystem()
    let condition = NSCondition()
    var holding = false
    var committerWaiting = false
    var committer: pthread_t?

    func setCommitter() { condition.withLock { committer = pthread_self() } }

    func hold() { condition.withLock { holding = true } }

    func release() {
        condition.withLock {
            holding = false
            condition.broadcast()
        }
    }

    var committerIsSyncing: Bool { condition.withLock { committerWaiting } }

    func enterSync() {
        condition.withLock {
            let isCommitter = committer.map { pthread_equal($0, pthread_self()) != 0 } ?? false
            if isCommitter { committerWaiting = true }
            while holding { condition.wait() }
            if isCommitter { committerWaiting = false }
        }
    }

    func openFile(_ path: String, create: Bool) throws -> LogFile {
        GatedLogFile(inner: try base.openFile(path, create: create), gate: self)
    }
    func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    func removeFile(_ path: String) throws { try base.removeFile(path) }
    func createDirectory(_ path: String) throws { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
}

final class GatedLogFile: LogFile, @unchecked Sendable {
    let inner: LogFile
    let gate: GatedLogFileSystem

    init(inner: LogFile, gate: GatedLogFileSystem) {
        self.inner = inner
        self.gate = gate
    }

    func read(at offset: Int64, count: Int) throws -> [UInt8] { try inner.read(at: offset, count: count) }
    func write(_ bytes: [UInt8], at offset: Int64) throws { try inner.write(bytes, at: offset) }
    func sync() throws {
        gate.enterSync()
        try inner.sync()
    }
    func size() throws -> Int64 { try inner.size() }
    func truncate(to size: Int64) throws { try inner.truncate(to: size) }
    func close() { inner.close() }
}

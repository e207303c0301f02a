import Foundation
import GraphValues
import Logging
import Testing
import TrellisService

@testable import TrellisServer

/// The transaction reaper: transactions past their time-out are rolled back while their client is idle, and
/// the client's next call fails with TransactionTimedOut.
@Suite("Transaction reaper")
struct TransactionReaperTests {
    let dir: TemporaryDirectory
    let engine = FakeEngine()
    let service: TrellisDatabaseService

    init() throws {
        dir = try TemporaryDirectory()
        let config = try Config(home: dir.path, overrides: [:])
        let auth = try AuthManager(
            enabled: false, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"))
        // A long interval: these tests call `reapExpired` themselves, except the one that waits for the timer.
        service = TrellisDatabaseService(
            engine: engine, auth: auth, config: config, logger: Logger(label: "test"), queryLog: nil,
            reaperInterval: .seconds(3600))
    }

    func session() -> TrellisSession {
        service.openSession(user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
            as! TrellisSession
    }

    /// The fake engine transaction registered under the only open transaction.
    func onlyOpenTransaction() -> FakeTransaction? {
        service.activity.withLock { a in a.open.values.first?.tx as? FakeTransaction }
    }

    var later: ContinuousClock.Instant { .now + .seconds(3600) }

    @Test("an idle explicit transaction past its time-out is rolled back without any message from the client")
    func idleExplicit() throws {
        let s = session()
        try s.beginTransaction(TransactionOptions(timeout: .seconds(60)))
        _ = try s.run("CREATE", parameters: [:], options: TransactionOptions()).next()
        let tx = try #require(onlyOpenTransaction())
        #expect(service.reapExpired() == 0, "not yet due")
        #expect(tx.open)
        #expect(service.reapExpired(now: later) == 1)
        #expect(!tx.open, "rolled back by the reaper")
        #expect(service.openTransactionCount == 0)

        let run = #expect(throws: DatabaseError.self) { try s.run("COUNT", parameters: [:], options: TransactionOptions()) }
        #expect(run?.code == .transactionTimedOut)
        let commit = #expect(throws: DatabaseError.self) { try s.commit() }
        #expect(commit?.code == .transactionTimedOut)
        #expect(engine.committedCount == 0)
        // The session is usable again.
        try s.beginTransaction(TransactionOptions())
        _ = try s.run("CREATE", parameters: [:], options: TransactionOptions()).next()
        _ = try s.commit()
        #expect(engine.committedCount == 1)
    }

    @Test("a result of a reaped transaction reports the time-out when pulled")
    func resultOfReaped() throws {
        let s = session()
        try s.beginTransaction(TransactionOptions(timeout: .seconds(60)))
        let c = try s.run("ROWS 10", parameters: [:], options: TransactionOptions())
        #expect(try c.next() == [.integer(1)])
        #expect(service.reapExpired(now: later) == 1)
        let e = #expect(throws: DatabaseError.self) { try c.next() }
        #expect(e?.code == .transactionTimedOut)
        // Rolling back what is already gone is fine, and ends it for the client.
        try s.rollback()
        #expect(throws: DatabaseError.self) { try s.commit() }
    }

    @Test("an auto-commit result left unconsumed past its time-out is rolled back")
    func autoCommitLeftOpen() throws {
        let s = session()
        let c = try s.run("ROWS 100", parameters: [:], options: TransactionOptions(timeout: .seconds(60)))
        #expect(try c.next() == [.integer(1)])
        let tx = try #require(onlyOpenTransaction())
        #expect(service.reapExpired(now: later) == 1)
        #expect(!tx.open)
        #expect(service.openTransactionCount == 0)
        let e = #expect(throws: DatabaseError.self) { try c.next() }
        #expect(e?.code == .transactionTimedOut)
        // The next statement runs normally.
        #expect(try s.run("COUNT", parameters: [:], options: TransactionOptions()).next() == [.integer(0)])
    }

    @Test("transactions without a time-out are never reaped")
    func noTimeout() throws {
        let s = session()
        try s.beginTransaction(TransactionOptions())
        #expect(service.reapExpired(now: later) == 0)
        #expect(service.openTransactionCount == 1)
        try s.rollback()
    }

    @Test("the reaper leaves a session alone while a call is in progress and ends it once idle")
    func busySession() throws {
        let s = session()
        try s.beginTransaction(TransactionOptions(timeout: .seconds(60)))
        let tx = try #require(onlyOpenTransaction())
        // Another thread holds the session the way a running call does.
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let gate = s.gate
        Thread.detachNewThread {
            gate.lock()
            holding.signal()
            release.wait()
            gate.unlock()
            done.signal()
        }
        holding.wait()
        #expect(service.reapExpired(now: later) == 0)
        #expect(tx.open, "untouched while the client's call runs")
        release.signal()
        done.wait()
        #expect(service.reapExpired(now: later) == 1)
        #expect(!tx.open)
    }

    @Test("the reaper's timer ends an abandoned transaction on its own")
    func timer() throws {
        let config = try Config(home: dir.path, overrides: [:])
        let auth = try AuthManager(
            enabled: false, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"))
        let service = TrellisDatabaseService(
            engine: engine, auth: auth, config: config, logger: Logger(label: "test"), queryLog: nil,
            reaperInterval: .milliseconds(10))
        let s = service.openSession(user: AuthenticatedUser(username: "u", roles: ["admin"], passwordChangeRequired: false))
        try s.beginTransaction(TransactionOptions(timeout: .milliseconds(20)))
        #expect(service.openTransactionCount == 1)
        // Bounded wait for the asynchronous effect; no call on the session meanwhile.
        let deadline = ContinuousClock.now + .seconds(20)
        while service.openTransactionCount > 0 && ContinuousClock.now < deadline { usleep(5_000) }
        #expect(service.openTransactionCount == 0)
        let e = #expect(throws: DatabaseError.self) { try s.run("COUNT", parameters: [:], options: TransactionOptions()) }
        #expect(e?.code == .transactionTimedOut)
    }

    @Test("dbms.transaction.monitor.check.interval sets how often the reaper's timer looks")
    func checkIntervalSetting() throws {
        let auth = try AuthManager(
            enabled: false, directory: try Config(home: dir.path, overrides: [:]).authDirectory, maxFailedAttempts: 3,
            lockTime: .seconds(5), iterations: 10, logger: Logger(label: "test"))
        func service(_ overrides: [String: String]) throws -> TrellisDatabaseService {
            TrellisDatabaseService(
                engine: engine, auth: auth, config: try Config(home: dir.path, overrides: overrides),
                logger: Logger(label: "test"), queryLog: nil)
        }
        #expect(try service([:]).reaperInterval == .milliseconds(200))
        #expect(try service(["dbms.transaction.monitor.check.interval": "1h"]).reaperInterval == .seconds(3600))

        // A short configured interval: the timer alone ends an abandoned transaction.
        let quick = try service(["dbms.transaction.monitor.check.interval": "10ms"])
        #expect(quick.reaperInterval == .milliseconds(10))
        let s = quick.openSession(
            user: AuthenticatedUser(username: "u", roles: ["admin"], passwordChangeRequired: false))
        try s.beginTransaction(TransactionOptions(timeout: .milliseconds(20)))
        let deadline = ContinuousClock.now + .seconds(20)
        while quick.openTransactionCount > 0 && ContinuousClock.now < deadline { usleep(5_000) }
        #expect(quick.openTransactionCount == 0)

        // Zero cannot mean "never" for an interval: start-up stops with the setting named.
        for bad in ["0", "0s", "soon"] {
            let error = #expect(throws: (any Error).self) {
                try Config(home: dir.path, overrides: ["dbms.transaction.monitor.check.interval": bad])
            }
            #expect("\(error.map { String(describing: $0) } ?? "")".contains("dbms.transaction.monitor.check.interval"))
        }
    }

    @Test("dbms.transaction.timeout applies when the client sets none")
    func defaultTimeout() throws {
        let config = try Config(home: dir.path, overrides: ["dbms.transaction.timeout": "1s"])
        let auth = try AuthManager(
            enabled: false, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"))
        let service = TrellisDatabaseService(
            engine: engine, auth: auth, config: config, logger: Logger(label: "test"), queryLog: nil,
            reaperInterval: .seconds(3600))
        let s = service.openSession(user: AuthenticatedUser(username: "u", roles: ["admin"], passwordChangeRequired: false))
        try s.beginTransaction(TransactionOptions())
        #expect(service.reapExpired() == 0)
        #expect(service.reapExpired(now: .now + .seconds(2)) == 1)
        let e = #expect(throws: DatabaseError.self) { try s.commit() }
        #expect(e?.code == .transactionTimedOut)
    }
}

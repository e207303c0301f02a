import Foundation
import GraphValues
import Synchronization
import TrellisService

@testable import TrellisServer

/// A tiny transactional engine standing in for kernel + Cypher so the session rules can be tested alone.
/// Statements: `CREATE` (adds one to a counter, a write), `COUNT` (reads it), `ROWS n` (n lazy rows),
/// `BAD` (syntax error at run), `BREAK` (error on the second row).
final class FakeEngine: GraphEngine, @unchecked Sendable {
    struct State {
        var committed = 0
        var lastTx: Int64 = 1
        var shutDown = false
        var begun: [SecurityContext] = []
    }
    let state = Mutex(State())

    func begin(security: SecurityContext, timeout: Duration?, metadata: [String: Value]) throws -> EngineTransaction {
        try state.withLock { s in
            guard !s.shutDown else { throw DatabaseError(.databaseUnavailable, "shut down") }
            s.begun.append(security)
        }
        return FakeTransaction(engine: self, security: security)
    }

    var lastCommittedTxID: Int64 { state.withLock { $0.lastTx } }
    var committedCount: Int { state.withLock { $0.committed } }
    func shutdown() throws { state.withLock { $0.shutDown = true } }
}

final class FakeTransaction: EngineTransaction {
    let engine: FakeEngine
    let security: SecurityContext
    var local = 0
    var open = true
    let terminated = Atomic<Bool>(false)

    init(engine: FakeEngine, security: SecurityContext) {
        self.engine = engine
        self.security = security
    }

    func check() throws {
        guard open else { throw DatabaseError(.transactionNotFound, "closed") }
        if terminated.load(ordering: .acquiring) { throw DatabaseError(.transactionTerminated, "terminated") }
    }

    func run(_ query: String, parameters: [String: Value]) throws -> EngineResult {
        try check()
        let words = query.split(separator: " ")
        switch words.first {
        case "CREATE":
            guard security.accessMode == .write else { throw DatabaseError(.accessMode, "read session") }
            guard security.permissions.contains(.write) else { throw DatabaseError(.forbidden, "no write") }
            return FakeResult(columns: [], rows: 0, type: .writeOnly, tx: self) { $0.local += 1 }
        case "COUNT":
            let n = engine.committedCount + local
            return FakeResult(columns: ["n"], rows: 1, type: .readOnly, tx: self, value: { _ in .integer(Int64(n)) })
        case "ROWS":
            return FakeResult(columns: ["i"], rows: Int(words[1])!, type: .readOnly, tx: self)
        case "BREAK":
            return FakeResult(columns: ["i"], rows: 5, type: .readOnly, tx: self, failAt: 1)
        default:
            throw DatabaseError(.syntaxError, "Invalid input '\(query)'")
        }
    }

    func commit() throws -> Int64 {
        try check()
        open = false
        return engine.state.withLock { s in
            s.committed += local
            if local > 0 { s.lastTx += 1 }
            return s.lastTx
        }
    }

    func rollback() { open = false }
    func terminate() { terminated.store(true, ordering: .releasing) }
}

final class FakeResult: EngineResult {
    let columns: [String]
    let total: Int
    let type: QueryType
    let tx: FakeTransaction
    var produced = 0
    let failAt: Int?
    let onFinish: ((FakeTransaction) -> Void)?
    let value: (Int) -> Value
    var done = false

    init(
        columns: [String], rows: Int, type: QueryType, tx: FakeTransaction, failAt: Int? = nil,
        value: @escaping (Int) -> Value = { .integer(Int64($0)) }, onFinish: ((FakeTransaction) -> Void)? = nil
    ) {
        self.columns = columns
        self.total = rows
        self.type = type
        self.tx = tx
        self.failAt = failAt
        self.value = value
        self.onFinish = onFinish
    }

    func next() throws -> [Value]? {
        try tx.check()
        if produced == failAt { throw DatabaseError(.arithmeticError, "/ by zero") }
        guard produced < total else {
            if !done, let onFinish { onFinish(tx) }
            done = true
            return nil
        }
        produced += 1
        return [value(produced)]
    }

    func summary() -> ResultSummary {
        var s = ResultSummary()
        s.queryType = type
        if type == .writeOnly { s.statistics.nodesCreated = done ? 1 : 0 }
        return s
    }
}

extension FakeResult {
    convenience init(columns: [String], rows: Int, type: QueryType, tx: FakeTransaction,
                     onFinish: @escaping (FakeTransaction) -> Void) {
        self.init(columns: columns, rows: rows, type: type, tx: tx, failAt: nil, onFinish: onFinish)
    }
}

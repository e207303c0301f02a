import Foundation
import GraphKernel
import GraphValues

@testable import Cypher

/// Which graph a test runs on: the in-memory test graph or the real storage kernel in a temporary directory.
enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case memory
    case kernel

    var description: String { rawValue }
}

/// A Cypher engine over a test graph, with helpers to run statements in tests. On the kernel backend every
/// statement runs in its own transaction, committed after its rows are read (rolled back on error).
final class TestDatabase {
    let graph = InMemoryGraph()
    let engine = CypherEngine()
    let backend: Backend
    private var database: GraphDatabase?
    private let directory: String

    init(_ backend: Backend = .memory) {
        self.backend = backend
        directory = NSTemporaryDirectory() + "trellis-cypher-test-\(UUID().uuidString)"
        if backend == .kernel {
            database = try! GraphDatabase(directory: directory)
        }
    }

    deinit {
        try? database?.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a statement to completion; returns its rows and statistics.
    func execute(_ query: String, _ parameters: [String: Value] = [:], options: ExecutionOptions = .init()) throws
        -> (rows: [[Value]], statistics: CypherStatistics, result: CypherResult)
    {
        guard let database else {
            let r = try engine.execute(query, parameters: parameters, transaction: graph, options: options)
            return (try r.all(), r.statistics, r)
        }
        let tx = try database.beginTransaction(mode: .write)
        do {
            let r = try engine.execute(query, parameters: parameters, transaction: tx, options: options)
            let rows = try r.all()
            try tx.commit()
            return (rows, r.statistics, r)
        } catch {
            if tx.isOpen { tx.rollback() }
            throw error
        }
    }

    @discardableResult
    func run(_ query: String, _ parameters: [String: Value] = [:], options: ExecutionOptions = .init()) throws
        -> [[Value]]
    {
        try execute(query, parameters, options: options).rows
    }

    /// Runs `body` with every statement it runs in one transaction, so reads see the transaction's own writes
    /// (kernel backend: the transaction is rolled back afterwards; memory backend: the shared graph keeps them).
    func inOneTransaction(_ body: (_ run: (String) throws -> [[Value]]) throws -> Void) throws {
        guard let database else {
            try body { try self.engine.execute($0, parameters: [:], transaction: self.graph).all() }
            return
        }
        let tx = try database.beginTransaction(mode: .write)
        defer { if tx.isOpen { tx.rollback() } }
        try body { try self.engine.execute($0, parameters: [:], transaction: tx).all() }
    }

    /// A lazy result on the in-memory graph (for laziness and plan tests).
    func result(_ query: String, _ parameters: [String: Value] = [:]) throws -> CypherResult {
        try engine.execute(query, parameters: parameters, transaction: graph)
    }

    /// Runs and returns the single value of a one-row, one-column result.
    func scalar(_ query: String, _ parameters: [String: Value] = [:]) throws -> Value {
        let rows = try run(query, parameters)
        precondition(rows.count == 1 && rows[0].count == 1, "expected one value, got \(rows)")
        return rows[0][0]
    }

    /// Error code of a failing statement (nil when it succeeds).
    func errorCode(_ query: String, _ parameters: [String: Value] = [:]) -> String? {
        do {
            try run(query, parameters)
            return nil
        } catch let e as DatabaseError {
            return e.code.rawValue
        } catch {
            return "\(error)"
        }
    }
}

import GraphKernel
import GraphValues

@testable import Cypher

/// A Cypher engine over an in-memory graph, with helpers to run statements in tests.
final class TestDatabase {
    let graph = InMemoryGraph()
    let engine = CypherEngine()

    @discardableResult
    func run(_ query: String, _ parameters: [String: Value] = [:], options: ExecutionOptions = .init()) throws
        -> [[Value]]
    {
        try engine.execute(query, parameters: parameters, transaction: graph, options: options).all()
    }

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

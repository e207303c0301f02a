import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// Read committed: a label-scan aggregation running while other transactions create and delete labelled nodes
/// neither fails nor counts another node under a deleted node's id (the fused scan-aggregation reads the nodes
/// of its scan in batches, after the scan began).
@Suite("Label scans under concurrent deletes")
struct ConcurrentScanTests {
    @Test("a label-scan aggregation under concurrent deletes never fails and counts the stable nodes exactly")
    func fusedAggregationUnderConcurrentDeletes() throws {
        let directory = NSTemporaryDirectory() + "trellis-concurrent-scan-\(UUID().uuidString)"
        let db = try GraphDatabase(directory: directory)
        defer {
            try? db.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let engine = CypherEngine()
        @Sendable func run(_ query: String, mode: TransactionMode) throws -> [[Value]] {
            let tx = try db.beginTransaction(mode: mode)
            defer { if tx.isOpen { tx.rollback() } }
            let rows = try engine.execute(query, parameters: [:], transaction: tx).all()
            if mode == .write { try tx.commit() }
            return rows
        }
        // Stable nodes every aggregation must count exactly; churned nodes come and go meanwhile.
        _ = try run("UNWIND range(1, 2000) AS i CREATE (:P {city: 'c' + toString(i % 10), k: i})", mode: .write)

        let state = WriterState()
        let writer = Thread {
            while !state.stopped {
                do {
                    _ = try run("UNWIND range(1, 300) AS i CREATE (:P {city: 'churn', k: -i})", mode: .write)
                    _ = try run("MATCH (p:P {city: 'churn'}) DELETE p", mode: .write)
                } catch {
                    state.fail(error)
                }
            }
            state.finish()
        }
        writer.start()
        defer {
            state.stop()
            state.awaitFinished()
        }
        for round in 0..<150 {
            // Fused (scan and aggregation in one loop) and, with `WHERE true`, the row-at-a-time pipeline, where a
            // node deleted after the scan produced it reads as null (as in Neo4j).
            let filter = round % 2 == 0 ? "" : "WHERE true "
            let rows = try run("MATCH (p:P) \(filter)RETURN p.city AS city, count(*) AS n, sum(p.k) AS s", mode: .read)
            var stable = 0
            for row in rows {
                if row[0] == .null, filter != "" { continue }
                guard case .string(let city) = row[0], case .integer(let n) = row[1] else {
                    Issue.record("unexpected row \(row)")
                    continue
                }
                if city == "churn" {
                    // Only churned nodes (negative keys) may appear under this city.
                    if case .integer(let s) = row[2] { #expect(s < 0 && n > 0, "\(row)") }
                } else {
                    stable += Int(n)
                }
            }
            #expect(stable == 2000)
        }
        state.stop()
        state.awaitFinished()
        #expect(state.error == nil, "writer failed: \(String(describing: state.error))")
    }
}

/// The writer thread's stop flag and outcome.
private final class WriterState: @unchecked Sendable {
    private let lock = NSCondition()
    private var stopRequested = false
    private var finished = false
    private var failure: Error?

    var stopped: Bool { lock.withLock { stopRequested } }
    var error: Error? { lock.withLock { failure } }
    func stop() { lock.withLock { stopRequested = true } }
    func fail(_ error: Error) { lock.withLock { failure = error; stopRequested = true } }
    func finish() { lock.withLock { finished = true; lock.broadcast() } }
    func awaitFinished() { lock.withLock { while !finished { lock.wait() } } }
}

import Foundation
import GraphKernel
import GraphValues

/// A bounded cache of planned statements keyed by query text.
final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: CachedPlan] = [:]
    private var order: [String] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func get(_ query: String) -> CachedPlan? {
        lock.lock()
        defer { lock.unlock() }
        return entries[query]
    }

    func put(_ query: String, _ plan: CachedPlan) {
        lock.lock()
        defer { lock.unlock() }
        if entries[query] == nil {
            order.append(query)
            if order.count > capacity {
                let evicted = order.removeFirst()
                entries[evicted] = nil
            }
        }
        entries[query] = plan
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        entries.removeAll()
        order.removeAll()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}

/// A parsed and analysed statement ready to be planned against a transaction.
final class CachedPlan: @unchecked Sendable {
    init() {}
}

/// Runs one statement: cache lookup, planning, result construction.
struct QueryRunner {
    let engine: CypherEngine
    let query: String
    let parameters: [String: Value]
    let transaction: any GraphWriteOperations
    let options: ExecutionOptions

    func run() throws -> CypherResult {
        throw DatabaseError(.unsupportedFeature, "Cypher execution is not implemented yet")
    }
}

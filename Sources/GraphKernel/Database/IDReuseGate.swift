/// Holds back node and relationship ids freed by a commit until every transaction that was open when that commit
/// applied has closed.
///
/// Such a transaction may still hold the id: a label scan's snapshot, an expansion's result, a client's element id
/// it got earlier. Were the id reused at once, the transaction would find another entity under it and read the new
/// node's properties as the old one's (a wrong answer, not just a missing one). Neo4j 3.x buffers freed ids for the
/// same reason. Other records (properties, dynamic records, relationship groups) are only reached from a node or
/// relationship inside one store-locked read, so they go back to their free lists at once.
///
/// Costs one mutex round trip per transaction begin and close; the sets of open generations stay as small as the
/// number of distinct commit generations among open transactions.
final class IDReuseGate: @unchecked Sendable {
    private let mutex = KernelMutex()
    // Unchecked: only touched under `mutex`.
    /// Number of commits applied so far (each apply is one generation).
    @exclusivity(unchecked) private var generation: UInt64 = 0
    /// Open transactions by the generation current when they began.
    @exclusivity(unchecked) private var open: [UInt64: Int] = [:]
    /// Freed ids waiting for the transactions older than their generation to close, oldest first.
    @exclusivity(unchecked) private var pending: [(generation: UInt64, kind: StoreKind, ids: [Int64])] = []

    /// Whether ids of `kind` are held back (only those a transaction can hold between reads).
    static func isHeldBack(_ kind: StoreKind) -> Bool { kind == .node || kind == .relationship }

    /// A transaction begins; returns the generation to hand back to `closed(_:)`.
    func opened() -> UInt64 {
        mutex.withLock {
            open[generation, default: 0] += 1
            return generation
        }
    }

    /// A transaction that began at `start` has closed; returns the held-back ids that may now be reused.
    func closed(_ start: UInt64) -> [(kind: StoreKind, ids: [Int64])] {
        mutex.withLock {
            if let count = open[start] {
                if count <= 1 { open[start] = nil } else { open[start] = count - 1 }
            }
            return releasableLocked()
        }
    }

    /// A commit applied and freed `freed`; returns what may be reused at once (everything when no transaction is
    /// open, and always the kinds that are not held back). Called with the commit mutex held, so generations follow
    /// the apply order.
    func freed(_ freed: [StoreKind: [Int64]]) -> [(kind: StoreKind, ids: [Int64])] {
        mutex.withLock {
            generation &+= 1
            var now: [(kind: StoreKind, ids: [Int64])] = []
            for (kind, ids) in freed where !ids.isEmpty {
                if open.isEmpty || !Self.isHeldBack(kind) {
                    now.append((kind, ids))
                } else {
                    pending.append((generation, kind, ids))
                }
            }
            return now
        }
    }

    private func releasableLocked() -> [(kind: StoreKind, ids: [Int64])] {
        guard !pending.isEmpty else { return [] }
        // A transaction that began at generation s may hold ids freed by commits of generation > s.
        let oldest = open.keys.min() ?? UInt64.max
        var ready = 0
        while ready < pending.count, pending[ready].generation <= oldest { ready += 1 }
        guard ready > 0 else { return [] }
        let out = pending[..<ready].map { (kind: $0.kind, ids: $0.ids) }
        pending.removeFirst(ready)
        return out
    }
}

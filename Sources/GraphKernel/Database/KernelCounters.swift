import Atomics

/// Transaction and checkpoint counters of one database, read by the server's metrics (`neo4j.transaction.*`,
/// `neo4j.check_point.*`, neo4j-ops.md §7).
///
/// Relaxed atomics only: they sit on the begin/commit/rollback path, and a reader sampling them every few seconds
/// needs each value to be exact, not a consistent snapshot across them (Neo4j's `TransactionCounters` are plain
/// atomic longs too).
public final class KernelCounters: Sendable {
    let startedRead = ManagedAtomic<Int64>(0)
    let startedWrite = ManagedAtomic<Int64>(0)
    let committedRead = ManagedAtomic<Int64>(0)
    let committedWrite = ManagedAtomic<Int64>(0)
    let rolledBackRead = ManagedAtomic<Int64>(0)
    let rolledBackWrite = ManagedAtomic<Int64>(0)
    let terminatedRead = ManagedAtomic<Int64>(0)
    let terminatedWrite = ManagedAtomic<Int64>(0)
    /// Open transactions by access mode (a transaction is counted under the mode it was begun with).
    let activeRead = ManagedAtomic<Int64>(0)
    let activeWrite = ManagedAtomic<Int64>(0)
    let peakConcurrent = ManagedAtomic<Int64>(0)
    let checkpoints = ManagedAtomic<Int64>(0)
    let checkpointNanosTotal = ManagedAtomic<Int64>(0)
    let lastCheckpointNanos = ManagedAtomic<Int64>(0)

    public init() {}

    /// A copy of every counter.
    public var snapshot: Snapshot {
        Snapshot(
            startedRead: startedRead.load(ordering: .relaxed), startedWrite: startedWrite.load(ordering: .relaxed),
            committedRead: committedRead.load(ordering: .relaxed),
            committedWrite: committedWrite.load(ordering: .relaxed),
            rolledBackRead: rolledBackRead.load(ordering: .relaxed),
            rolledBackWrite: rolledBackWrite.load(ordering: .relaxed),
            terminatedRead: terminatedRead.load(ordering: .relaxed),
            terminatedWrite: terminatedWrite.load(ordering: .relaxed),
            activeRead: activeRead.load(ordering: .relaxed), activeWrite: activeWrite.load(ordering: .relaxed),
            peakConcurrent: peakConcurrent.load(ordering: .relaxed),
            checkpoints: checkpoints.load(ordering: .relaxed),
            checkpointMillisTotal: checkpointNanosTotal.load(ordering: .relaxed) / 1_000_000,
            lastCheckpointMillis: lastCheckpointNanos.load(ordering: .relaxed) / 1_000_000)
    }

    /// Counter values at one moment. "Read"/"write" split committed and rolled-back transactions by whether they
    /// changed anything (as Neo4j does), and started/active ones by the access mode they were begun with.
    public struct Snapshot: Sendable, Hashable {
        public var startedRead: Int64
        public var startedWrite: Int64
        public var committedRead: Int64
        public var committedWrite: Int64
        public var rolledBackRead: Int64
        public var rolledBackWrite: Int64
        public var terminatedRead: Int64
        public var terminatedWrite: Int64
        public var activeRead: Int64
        public var activeWrite: Int64
        public var peakConcurrent: Int64
        public var checkpoints: Int64
        public var checkpointMillisTotal: Int64
        public var lastCheckpointMillis: Int64
    }

    // MARK: - Hooks (kernel only)

    func transactionStarted(write: Bool) {
        (write ? startedWrite : startedRead).wrappingIncrement(ordering: .relaxed)
        let active = (write ? activeWrite : activeRead).wrappingIncrementThenLoad(ordering: .relaxed)
            + (write ? activeRead : activeWrite).load(ordering: .relaxed)
        var peak = peakConcurrent.load(ordering: .relaxed)
        while active > peak {
            let (exchanged, original) = peakConcurrent.weakCompareExchange(
                expected: peak, desired: active, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }
    }

    /// `beganAsWrite`: the access mode; `wrote`: whether the transaction changed anything.
    func transactionFinished(beganAsWrite: Bool, wrote: Bool, committed: Bool, terminated: Bool) {
        (beganAsWrite ? activeWrite : activeRead).wrappingDecrement(ordering: .relaxed)
        if committed {
            (wrote ? committedWrite : committedRead).wrappingIncrement(ordering: .relaxed)
        } else {
            (wrote ? rolledBackWrite : rolledBackRead).wrappingIncrement(ordering: .relaxed)
            if terminated { (wrote ? terminatedWrite : terminatedRead).wrappingIncrement(ordering: .relaxed) }
        }
    }

    func checkpointed(nanos: UInt64) {
        let n = Int64(clamping: nanos)
        checkpoints.wrappingIncrement(ordering: .relaxed)
        checkpointNanosTotal.wrappingIncrement(by: n, ordering: .relaxed)
        lastCheckpointNanos.store(n, ordering: .relaxed)
    }
}

/// Records in use per store, as Neo4j's `neo4j.ids_in_use.*` report them (high id minus ids free for reuse).
public struct IDsInUse: Sendable, Hashable {
    public var nodes: Int64
    public var relationships: Int64
    public var properties: Int64
    public var relationshipTypes: Int64
}

import Synchronization

/// Bytes the data port sent, by purpose, for the HA network metrics (`neo4j.network.*`, neo4j-ha.md §8). One
/// instance per member, shared by its `DataServer` and the `DataClient`s it opens; relaxed atomics bumped once per
/// frame, read by the metrics reporters.
public final class DataPortTraffic: Sendable {
    let slaveTransactionBytes = Atomic<Int>(0)
    let masterTransactionBytes = Atomic<Int>(0)
    let masterStoreBytes = Atomic<Int>(0)

    public init() {}

    public struct Snapshot: Sendable, Hashable {
        /// Forwarded transactions a slave sent to the master (begin, statements, commit, rollback).
        public var slaveTransactionBytes: Int
        /// Committed transactions a master sent to slaves: pull replies and pushes.
        public var masterTransactionBytes: Int
        /// Store files sent in store copies.
        public var masterStoreBytes: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            slaveTransactionBytes: slaveTransactionBytes.load(ordering: .relaxed),
            masterTransactionBytes: masterTransactionBytes.load(ordering: .relaxed),
            masterStoreBytes: masterStoreBytes.load(ordering: .relaxed))
    }

    /// Counts a request frame by what it carries.
    func requestSent(_ kind: DataWire.Kind, bytes: Int) {
        switch kind {
        case .push: masterTransactionBytes.add(bytes, ordering: .relaxed)
        case .forwardBegin, .forwardRun, .forwardCommit, .forwardRollback:
            slaveTransactionBytes.add(bytes, ordering: .relaxed)
        default: break
        }
    }
}

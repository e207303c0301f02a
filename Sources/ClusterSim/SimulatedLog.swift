// The replicated transaction log as the simulation models it: a list of `TransactionStamp`s with a checksum chain.

import ClusterCore

/// One member's simulated transaction log: stamp `i` is transaction `i + 1` (transaction 1 is the base transaction
/// of an empty store, as in Neo4j). Each checksum folds in the previous one, so two logs with equal stamps at a tx id
/// share their whole history up to it — what lets `BranchDetector` compare only the last transaction.
struct SimulatedLog: Hashable, Sendable {
    private(set) var stamps: [TransactionStamp] = []
    /// Transactions below this id were pruned from the log (they live on in the store only); a slave that far behind
    /// needs a store copy (`BranchDetector.Verdict.outOfDate`).
    private(set) var firstRetainedTx: UInt64 = 1

    var isEmpty: Bool { stamps.isEmpty }
    var last: TransactionStamp? { stamps.last }
    var lastCommitted: LogPosition { LogPosition(lastCommittedTx: UInt64(stamps.count)) }
    var count: Int { stamps.count }

    /// The stamp of `tx`, if the store holds it (pruned or not).
    func stamp(at tx: UInt64) -> TransactionStamp? {
        guard tx >= 1, tx <= UInt64(stamps.count) else { return nil }
        return stamps[Int(tx - 1)]
    }

    /// The stamp of `tx` if the log still has it (what the master can serve or compare).
    func retainedStamp(at tx: UInt64) -> TransactionStamp? {
        tx >= firstRetainedTx ? stamp(at: tx) : nil
    }

    /// Whether `stamp` is part of this log's history.
    func contains(_ stamp: TransactionStamp) -> Bool {
        self.stamp(at: stamp.tx.lastCommittedTx) == stamp
    }

    /// Whether this log is a prefix of `other` (same history up to this log's length).
    func isPrefix(of other: SimulatedLog) -> Bool {
        guard let last else { return true }
        return other.contains(last)
    }

    /// Appends the next transaction, committed by `master` in `epoch` with client payload `payload`.
    mutating func commit(epoch: Epoch, master: MemberID, payload: UInt64) -> TransactionStamp {
        let tx = UInt64(stamps.count) + 1
        let stamp = TransactionStamp(
            tx: LogPosition(lastCommittedTx: tx), epoch: epoch, master: master,
            checksum: Self.chain(last?.checksum ?? 0, tx: tx, epoch: epoch, master: master, payload: payload)
        )
        stamps.append(stamp)
        return stamp
    }

    /// Appends a transaction received from a master. - Precondition: it is the next tx id.
    mutating func append(_ stamp: TransactionStamp) {
        precondition(stamp.tx.lastCommittedTx == UInt64(stamps.count) + 1,
                     "appending \(stamp.tx) to a log ending at \(lastCommitted)")
        stamps.append(stamp)
    }

    /// Drops log entries older than the newest `retained` (the store keeps them).
    mutating func prune(retaining retained: Int) {
        firstRetainedTx = max(firstRetainedTx, UInt64(max(1, stamps.count - retained + 1)))
    }

    /// A store copy: the store becomes `source`'s; its log starts at the copy's last transaction.
    mutating func copyStore(from source: SimulatedLog) {
        stamps = source.stamps
        firstRetainedTx = max(1, UInt64(stamps.count))
    }

    /// The stamps from the first one that `other` lacks: what a store replaced by a store copy keeps as a branch.
    func divergentTail(against other: SimulatedLog) -> [TransactionStamp] {
        var common = 0
        while common < stamps.count, other.stamp(at: UInt64(common + 1)) == stamps[common] { common += 1 }
        return Array(stamps[common...])
    }

    /// Up to `limit` stamps following `tx`.
    func stamps(after tx: UInt64, limit: Int) -> [TransactionStamp] {
        let start = Int(tx)
        guard start < stamps.count else { return [] }
        return Array(stamps[start..<min(stamps.count, start + limit)])
    }

    /// The checksum of a transaction: a SplitMix64-style mix of the previous checksum and the transaction's identity.
    static func chain(_ previous: UInt64, tx: UInt64, epoch: Epoch, master: MemberID, payload: UInt64) -> UInt64 {
        var z = previous &+ 0x9E37_79B9_7F4A_7C15
        for part in [tx, epoch.rawValue, UInt64(bitPattern: Int64(master.rawValue)), payload] {
            z = (z ^ part) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
        }
        return z
    }
}

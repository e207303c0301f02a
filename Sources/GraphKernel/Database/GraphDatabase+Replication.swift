import GraphValues

/// What the HA cluster and online backup need from a database: the committed transactions in log form, applying
/// transactions committed by another member (keeping their tx id, epoch and checksum), and the identity stamped
/// on local commits.
extension GraphDatabase {
    /// Committed transactions from `txID` on, read from the transaction log. Throws
    /// `TransactionLogError.transactionsNotAvailable` when they have been pruned (a store copy is needed).
    public func committedTransactions(from txID: TxID) throws -> TransactionCursor {
        try checkOpen()
        return try log.transactions(from: txID)
    }

    /// The checksum of the last committed transaction (the value the next one chains on).
    public var lastCommittedChecksum: UInt64 { commitMutex.withLock { log.lastChecksum } }

    /// Applies a transaction committed on another member: appended to the log as is (its id must be the next one
    /// and its previous checksum must match ours, or `TransactionLogError` is thrown and nothing changes), then
    /// applied to the store.
    public func applyReplicated(_ transaction: CommittedTransaction) throws {
        try checkOpen()
        try commitMutex.withLock { try applyReplicatedLocked(transaction) }
    }

    /// Applies consecutive transactions committed elsewhere, sharing one log sync (a pull batch). The first must be
    /// the next id. If one is refused (`TransactionLogError`: gap, diverged chain, bad checksum), the ones before it
    /// are durable and applied and the refusal is thrown; nothing after it is touched.
    public func applyReplicated(_ transactions: [CommittedTransaction]) throws {
        try checkOpen()
        try commitMutex.withLock { try applyReplicatedBatchLocked(transactions) }
    }

    /// Sets the server id and epoch written into transactions committed here from now on (HA: on election).
    public func setCommitIdentity(serverID: Int32, epoch: Int64) {
        commitMutex.withLock {
            commitServerID = serverID
            commitEpoch = epoch
        }
    }
}

import GraphValues

extension GraphDatabase {
    /// The log header of committed transaction `txID` (its epoch, master and checksum: what branch detection
    /// compares), or nil when this store has no such transaction (beyond its last, or pruned from its log).
    ///
    /// The store's base (tx 1 of a store created here, which has no log entry) answers with epoch 0, master 0 and
    /// checksum 0, the same on every member: two stores that never committed anything share that history, and
    /// the store id tells foreign stores apart.
    public func transactionHeader(at txID: TxID) throws -> TransactionHeader? {
        try checkOpen()
        guard txID.rawValue >= 1, txID <= lastCommittedTxID else { return nil }
        if txID.rawValue == 1 {
            return TransactionHeader(
                txID: txID, previousChecksum: 0, checksum: 0, commitTimestampMillis: 0, masterServerID: 0, epoch: 0)
        }
        do {
            return try log.transactions(from: txID).next()?.header
        } catch TransactionLogError.transactionsNotAvailable {
            return nil
        }
    }
}

import GraphKernel

/// Applying transactions that may overlap what a member already has: a push and a pull (or two pushes of
/// concurrent commits) can deliver the same transaction twice.
public enum ReplicatedApply {
    /// Applies `transactions` (consecutive, oldest first) to `database`. One the database already has is skipped
    /// when its checksum equals the database's own for that id, and refused with
    /// `TransactionLogError.checksumChainBroken` when it differs (the histories diverged: branched). A transaction
    /// beyond the next id throws `TransactionLogError.gap`. Returns how many were applied.
    @discardableResult
    public static func apply(_ transactions: [CommittedTransaction], to database: GraphDatabase) throws -> Int {
        // Fast path: nothing overlaps what we have, so the whole batch shares one log sync.
        if let first = transactions.first, first.header.txID.rawValue == database.lastCommittedTxID.rawValue + 1 {
            do {
                try database.applyReplicated(transactions)
                return transactions.count
            } catch TransactionLogError.gap(let expected, _) where expected > first.header.txID {
                // A concurrent push or pull got in first: sort it out one by one below.
            }
        }
        var applied = 0
        for transaction in transactions {
            let id = transaction.header.txID
            if id <= database.lastCommittedTxID {
                // Pruned locally: nothing to compare with, and the id is taken anyway; the next new one is checked
                // against our chain by applyReplicated.
                guard let mine = try database.transactionHeader(at: id) else { continue }
                if mine.checksum != transaction.header.checksum {
                    throw TransactionLogError.checksumChainBroken(
                        txID: id, expectedPrevious: mine.previousChecksum,
                        receivedPrevious: transaction.header.previousChecksum)
                }
                continue
            }
            do {
                try database.applyReplicated(transaction)
                applied += 1
            } catch TransactionLogError.gap(let expected, _) where expected > id {
                // Someone else (a concurrent push or pull) applied it between our check and our apply.
                let mine = try database.transactionHeader(at: id)
                if let mine, mine.checksum != transaction.header.checksum {
                    throw TransactionLogError.checksumChainBroken(
                        txID: id, expectedPrevious: mine.previousChecksum,
                        receivedPrevious: transaction.header.previousChecksum)
                }
            }
        }
        return applied
    }
}

extension DataClient {
    /// Pulls from this member and applies to `database` until `database` has `target` (or, when nil, everything
    /// the member had committed when last asked). Tolerates transactions arriving meanwhile by push. Returns the
    /// database's last committed tx id. Throws `TransactionLogError.transactionsNotAvailable` when the member no
    /// longer has what is needed (store copy), `.checksumChainBroken` when the histories diverged (branched).
    @discardableResult
    public func catchUp(_ database: GraphDatabase, to target: TxID? = nil, batchLimit: Int = 100) async throws -> TxID
    {
        precondition(batchLimit >= 1, "batchLimit must be positive")
        while true {
            let next = TxID(database.lastCommittedTxID.rawValue + 1)
            if let target, next > target { return database.lastCommittedTxID }
            let limit = target.map { min(batchLimit, Int($0.rawValue - next.rawValue + 1)) } ?? batchLimit
            let (batch, last) = try await pull(from: next, limit: limit)
            try ReplicatedApply.apply(batch, to: database)
            let goal = target ?? last
            if database.lastCommittedTxID >= goal { return database.lastCommittedTxID }
            if batch.isEmpty {
                // The member does not have `target` (yet): report how far we got rather than spin.
                guard let target else { return database.lastCommittedTxID }
                throw TransactionLogError.transactionsNotAvailable(requested: target, oldestAvailable: next)
            }
        }
    }
}

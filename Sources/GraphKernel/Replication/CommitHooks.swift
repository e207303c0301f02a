import GraphValues

/// The two callbacks the HA layer installs on a database: the gate asked before every local write commit (is this
/// member allowed to write right now?) and the hook told about every local commit (push it to slaves).
///
/// Read on every commit, so a plain mutex around two optionals; the callbacks themselves run outside it.
final class ReplicationHooks: @unchecked Sendable {
    typealias Hook = @Sendable (CommittedTransaction) throws -> Void
    typealias Gate = @Sendable () throws -> Void

    private let mutex = KernelMutex()
    private var _hook: Hook?
    private var _gate: Gate?

    var hook: Hook? {
        get { mutex.withLock { _hook } }
        set { mutex.withLock { _hook = newValue } }
    }

    var gate: Gate? {
        get { mutex.withLock { _gate } }
        set { mutex.withLock { _gate = newValue } }
    }

    /// Throws whatever the gate throws (nothing when no gate is installed).
    func checkGate() throws {
        if let gate { try gate() }
    }

    /// Whether committers need to keep the committed form of their transaction for the hook.
    var wantsCommittedTransactions: Bool { mutex.withLock { _hook != nil } }

    /// Tells the hook (if any) about `transaction`.
    func committed(_ transaction: CommittedTransaction?) throws {
        guard let transaction, let hook else { return }
        try hook(transaction)
    }
}

extension GraphDatabase {
    /// Installs (or with nil removes) the hook called for every local commit that changed something, after the
    /// transaction is durable in the log and applied to the store, before `commit()` returns to its caller. An error
    /// thrown by the hook is rethrown by `commit()`, but the transaction stays committed locally (its locks are
    /// already released): the hook reports a replication shortfall, it cannot undo the commit.
    ///
    /// The hook runs on the committing thread with no database lock held. With concurrent committers (group commit)
    /// hooks of consecutive transactions may run concurrently and in any order; a pusher that needs them in order
    /// reads the missing ones with `committedTransactions(from:)`. Token creations (a new label, type or property
    /// key is its own transaction, as in Neo4j) are reported too. Transactions applied with `applyReplicated` are not.
    public func setCommitHook(_ hook: (@Sendable (CommittedTransaction) throws -> Void)?) {
        replicationHooks.hook = hook
    }

    /// Installs (or with nil removes) the gate checked before every local write commit, including token creations.
    /// Throw from it (for example a `DatabaseError` with a transient code) to refuse the commit: nothing reaches the
    /// log or the store and the error is what `commit()` throws. Replicated applies (`applyReplicated`) bypass it.
    ///
    /// Called with the commit mutex held (so a gate that says yes is followed by the commit before any other one
    /// starts); it must be quick and must not commit on this database.
    public func setCommitGate(_ gate: (@Sendable () throws -> Void)?) {
        replicationHooks.gate = gate
    }
}

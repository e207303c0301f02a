/// Order in which a master picks slaves to push a commit to (`ha.tx_push_strategy`, neo4j-ha.md §6).
public enum PushStrategy: Hashable, Sendable {
    /// Lowest server id first (Neo4j 3.x default): the most up-to-date slave tends to be the one the low-id
    /// tie-break elects, so failover lands predictably.
    case fixedAscending
    /// Highest server id first (Neo4j 2.x default).
    case fixedDescending
    /// A start point rotating over the id-sorted slaves, one step per commit.
    case roundRobin
}

/// When a commit is reported successful to the client.
public enum PushAcknowledgement: Hashable, Sendable {
    /// Neo4j's behaviour: succeed after the local commit, pushes are best effort (shortfall is only reported).
    case optimistic
    /// Succeed only once `pushFactor` slaves have the transaction; fail the commit if not enough slaves can take
    /// it. Fixes "data loss by design" (neo4j-ha.md §10).
    case strict
}

/// Master-side push replication of committed transactions.
///
/// After a local commit the master asks `pushFactor` slaves (one fewer if a slave authored the transaction; the
/// author is skipped) to apply it, in `strategy` order among the slaves it currently has. A failed push is replaced
/// by the next slave in that order. Every in-flight commit is bounded by the slave count; nothing is retried forever.
public struct ReplicationStateMachine: Sendable {
    /// What the shell must do.
    public enum Action: Hashable, Sendable {
        /// Ask `slave` to apply (pull) up to `tx`.
        case push(tx: LogPosition, to: MemberID)
        /// Report the commit of `tx` as successful to its client.
        case acknowledgeCommit(LogPosition)
        /// Strict mode: the commit could not reach enough slaves; report it failed (the master keeps it locally).
        case failCommit(LogPosition, replicated: Int, required: Int)
        /// Optimistic mode: fewer slaves than desired have `tx` (Neo4j logs "couldn't commit on enough slaves").
        case reportShortfall(LogPosition, replicated: Int, desired: Int)
    }

    private struct Pending: Sendable {
        var required: Int
        var acknowledged: Set<MemberID> = []
        var inFlight: Set<MemberID> = []
        var remaining: [MemberID]
        var resolved = false
    }

    /// `ha.tx_push_factor`.
    public let pushFactor: Int
    /// `ha.tx_push_strategy`.
    public let strategy: PushStrategy
    /// Optimistic (Neo4j) or strict acknowledgement.
    public let acknowledgement: PushAcknowledgement
    private var roundRobinStart = 0
    private var pending: [LogPosition: Pending] = [:]

    /// Creates the machine. - Precondition: `pushFactor >= 0`.
    public init(pushFactor: Int = 1, strategy: PushStrategy = .fixedAscending,
                acknowledgement: PushAcknowledgement = .optimistic) {
        precondition(pushFactor >= 0, "tx_push_factor must not be negative, got \(pushFactor)")
        self.pushFactor = pushFactor
        self.strategy = strategy
        self.acknowledgement = acknowledgement
    }

    /// Commits whose outcome is still open.
    public var pendingCount: Int { pending.count }

    /// The priority order of `slaves` for the next commit.
    public func order(of slaves: [MemberID]) -> [MemberID] {
        let sorted = slaves.sorted()
        switch strategy {
        case .fixedAscending: return sorted
        case .fixedDescending: return sorted.reversed()
        case .roundRobin:
            guard !sorted.isEmpty else { return [] }
            let start = roundRobinStart % sorted.count
            return Array(sorted[start...] + sorted[..<start])
        }
    }

    /// The master committed `tx` locally; `author` is the slave that sent it, if any; `slaves` are the members
    /// currently following this master.
    public mutating func transactionCommitted(_ tx: LogPosition, author: MemberID?, slaves: [MemberID]) -> [Action] {
        precondition(pending[tx] == nil, "\(tx) committed twice")
        var candidates = order(of: slaves.filter { $0 != author })
        if strategy == .roundRobin { roundRobinStart += 1 }
        let required = max(0, pushFactor - (author == nil ? 0 : 1))
        var entry = Pending(required: required, remaining: [])
        var actions: [Action] = []
        let first = min(required, candidates.count)
        for slave in candidates.prefix(first) {
            entry.inFlight.insert(slave)
            actions.append(.push(tx: tx, to: slave))
        }
        candidates.removeFirst(first)
        entry.remaining = candidates
        pending[tx] = entry
        if acknowledgement == .optimistic || required == 0 {
            actions.append(.acknowledgeCommit(tx))
            pending[tx]!.resolved = true
        }
        actions += settle(tx)
        return actions
    }

    /// `slave` applied `tx`.
    public mutating func pushAcknowledged(_ tx: LogPosition, by slave: MemberID) -> [Action] {
        guard var entry = pending[tx], entry.inFlight.remove(slave) != nil else { return [] }
        entry.acknowledged.insert(slave)
        pending[tx] = entry
        return settle(tx)
    }

    /// Pushing `tx` to `slave` failed (time-out, slave gone): try the next slave in order.
    public mutating func pushFailed(_ tx: LogPosition, to slave: MemberID) -> [Action] {
        guard var entry = pending[tx], entry.inFlight.remove(slave) != nil else { return [] }
        var actions: [Action] = []
        if !entry.remaining.isEmpty {
            let next = entry.remaining.removeFirst()
            entry.inFlight.insert(next)
            actions.append(.push(tx: tx, to: next))
        }
        pending[tx] = entry
        return actions + settle(tx)
    }

    private mutating func settle(_ tx: LogPosition) -> [Action] {
        guard let entry = pending[tx] else { return [] }
        if entry.acknowledged.count >= entry.required {
            pending[tx] = nil
            return entry.resolved ? [] : [.acknowledgeCommit(tx)]
        }
        guard entry.inFlight.isEmpty else { return [] }
        // Nobody left to try.
        pending[tx] = nil
        if acknowledgement == .strict {
            return [.failCommit(tx, replicated: entry.acknowledged.count, required: entry.required)]
        }
        return [.reportShortfall(tx, replicated: entry.acknowledged.count, desired: entry.required)]
    }
}

/// What a member knows about the transaction at one tx id: enough to tell whether two logs share history.
public struct TransactionStamp: Hashable, Sendable {
    /// The transaction id.
    public var tx: LogPosition
    /// The epoch of the master that committed it.
    public var epoch: Epoch
    /// That master.
    public var master: MemberID
    /// Checksum of the transaction (Neo4j: start-entry checksum).
    public var checksum: UInt64

    /// Creates a stamp.
    public init(tx: LogPosition, epoch: Epoch, master: MemberID, checksum: UInt64) {
        self.tx = tx
        self.epoch = epoch
        self.master = master
        self.checksum = checksum
    }
}

/// Decides at the slave/master handshake whether a joining slave's log is a prefix of the master's
/// (neo4j-ha.md §5, step 3).
public enum BranchDetector {
    /// The verdict.
    public enum Verdict: Hashable, Sendable {
        /// Same history: pull the missing transactions.
        case sameHistory
        /// The slave committed something else at `tx`: keep its store as a branch and copy the master's.
        case branched(at: LogPosition)
        /// The master no longer has (or never had) the slave's last transaction: needs a store copy.
        case outOfDate
    }

    /// Compares the slave's last transaction with the master's record of the same tx id (`nil`: the master does not
    /// have it). A slave ahead of the master's last committed tx committed under an older master: branched.
    public static func compare(slaveLast: TransactionStamp, masterLastCommitted: LogPosition,
                               masterAtSameTx: TransactionStamp?) -> Verdict {
        if slaveLast.tx > masterLastCommitted { return .branched(at: slaveLast.tx) }
        guard let master = masterAtSameTx else { return .outOfDate }
        precondition(master.tx == slaveLast.tx, "compared \(slaveLast.tx) with the master's \(master.tx)")
        if master.epoch != slaveLast.epoch || master.master != slaveLast.master
            || master.checksum != slaveLast.checksum
        {
            return .branched(at: slaveLast.tx)
        }
        return .sameHistory
    }
}

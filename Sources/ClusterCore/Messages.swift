/// A heartbeat. Every member sends one to every peer each `heartbeatInterval`; a master's heartbeat also asserts
/// its mastership in `epoch` and is acknowledged by its followers (that acknowledgement is the master's lease).
public struct Heartbeat: Hashable, Sendable {
    /// The sender's current epoch.
    public var epoch: Epoch
    /// Whether the sender is master of `epoch` and accepting writes.
    public var isMaster: Bool
    /// The sender's last committed transaction (election credentials and catch-up target).
    public var lastCommitted: LogPosition
    /// Members the sender suspects, ascending (gossip for the failure detector).
    public var suspects: [MemberID]
    /// The sender's monotonic clock at sending, echoed back in acknowledgements. Only ever compared with the
    /// sender's own clock, so members need not agree on time, only on its rate.
    public var sentAt: Duration
    /// Whether the sender would stand for election now. False for a member with `ha.allow_init_cluster=false` that
    /// has never seen a master: its credentials must not block the members that may found the cluster.
    public var mayStand: Bool
    /// The epoch of the master that committed the sender's last transaction (election credentials).
    public var lastEpoch: Epoch

    /// Creates a heartbeat.
    public init(epoch: Epoch, isMaster: Bool, lastCommitted: LogPosition, suspects: [MemberID], sentAt: Duration,
                mayStand: Bool = true, lastEpoch: Epoch = .zero) {
        self.epoch = epoch
        self.isMaster = isMaster
        self.lastCommitted = lastCommitted
        self.suspects = suspects
        self.sentAt = sentAt
        self.mayStand = mayStand
        self.lastEpoch = lastEpoch
    }
}

/// What a candidate offers in an election (Neo4j's `DefaultElectionCredentials`).
public struct ElectionCredentials: Hashable, Sendable {
    /// The candidate.
    public var member: MemberID
    /// Its last committed transaction.
    public var lastCommitted: LogPosition
    /// Whether it is currently master (wins ties on `lastCommitted`, so a healthy master is not replaced needlessly).
    public var isCurrentMaster: Bool
    /// The epoch of the master that committed its last transaction.
    public var lastEpoch: Epoch

    /// Creates credentials.
    public init(member: MemberID, lastCommitted: LogPosition, isCurrentMaster: Bool, lastEpoch: Epoch = .zero) {
        self.member = member
        self.lastCommitted = lastCommitted
        self.isCurrentMaster = isCurrentMaster
        self.lastEpoch = lastEpoch
    }

    /// The election order: the log whose last transaction comes from the newer epoch wins (Raft's "at least as up
    /// to date"); then, as in Neo4j (neo4j-ha.md §4), the higher last committed tx; on equal tx the current master;
    /// still equal, the lower server id.
    ///
    /// Deviation from Neo4j, which ranks on tx id alone: the two differ only when logs have diverged. A master cut
    /// off from the majority can keep a longer log of commits nobody acknowledged while a newer master acknowledges
    /// writes; ranking on tx id alone would let it win on return and lose those acknowledged writes (found by the
    /// simulation, docs/clustering-design.md, "Two election rules strict push needs").
    public func outranks(_ other: ElectionCredentials) -> Bool {
        if hasNewerLog(than: other) || other.hasNewerLog(than: self) { return hasNewerLog(than: other) }
        if isCurrentMaster != other.isCurrentMaster { return isCurrentMaster }
        return member < other.member
    }

    /// Whether this log is strictly more up to date than `other`'s: newer epoch of the last transaction, then the
    /// higher tx id. Ignores mastership and ids, which only break ties between equal logs.
    public func hasNewerLog(than other: ElectionCredentials) -> Bool {
        if lastEpoch != other.lastEpoch { return lastEpoch > other.lastEpoch }
        return lastCommitted > other.lastCommitted
    }
}

/// A candidate's request for a vote in `epoch`.
public struct VoteRequest: Hashable, Sendable {
    /// The epoch the candidate wants to be master of.
    public var epoch: Epoch
    /// The candidate's credentials.
    public var credentials: ElectionCredentials
    /// The candidate's clock at sending, echoed in the response (a vote doubles as the first lease acknowledgement).
    public var sentAt: Duration

    /// Creates a vote request.
    public init(epoch: Epoch, credentials: ElectionCredentials, sentAt: Duration) {
        self.epoch = epoch
        self.credentials = credentials
        self.sentAt = sentAt
    }
}

/// Messages between members. The shell carries them; the core never sees sockets.
public enum ClusterMessage: Hashable, Sendable {
    /// Periodic liveness, gossip and (from a master) mastership assertion.
    case heartbeat(Heartbeat)
    /// A follower acknowledges the master of `epoch`; `echoedSentAt` is the heartbeat's `sentAt`.
    case heartbeatAck(epoch: Epoch, echoedSentAt: Duration)
    /// A follower rejects a master heartbeat from an older epoch; the old master must step down.
    case staleEpoch(current: Epoch)
    /// A candidate asks for a vote.
    case voteRequest(VoteRequest)
    /// The answer to a vote request; `epoch` is the voter's epoch after handling it.
    case voteResponse(epoch: Epoch, granted: Bool, echoedSentAt: Duration)
    /// The master of `epoch` stopped accepting writes and is leaving (clean shutdown): its followers may release
    /// their promise to it at once instead of waiting a heartbeat time-out.
    case resign(epoch: Epoch)
}

/// The election state that must be on disk before a vote is sent: a member never grants two candidates in one epoch,
/// even across a crash.
public struct PersistentElectionState: Hashable, Sendable {
    /// The highest epoch this member has taken part in.
    public var currentEpoch: Epoch
    /// Whom it voted for in `currentEpoch`, if anyone.
    public var votedFor: MemberID?

    /// Creates the state.
    public init(currentEpoch: Epoch = .zero, votedFor: MemberID? = nil) {
        self.currentEpoch = currentEpoch
        self.votedFor = votedFor
    }
}

/// What a configured member is allowed to do.
public enum MemberKind: Hashable, Sendable {
    /// Holds a full copy of the store. `slaveOnly` is `ha.slave_only`: it is never elected master.
    case data(slaveOnly: Bool)
    /// Votes and counts toward quorum, holds no data, is never master (`dbms.mode=ARBITER`).
    case arbiter
}

/// One configured member.
public struct ClusterMemberConfiguration: Hashable, Sendable {
    /// The member's server id.
    public let id: MemberID
    /// Data instance (possibly slave-only) or arbiter.
    public let kind: MemberKind

    /// Creates a member description.
    public init(id: MemberID, kind: MemberKind = .data(slaveOnly: false)) {
        self.id = id
        self.kind = kind
    }

    /// Whether the member may become master: only data members that are not `ha.slave_only`.
    public var isElectable: Bool { kind == .data(slaveOnly: false) }
}

/// The static cluster configuration every member shares: the voter set and the timing settings.
///
/// Quorum is computed over this fixed voter set (arbiters and failed members included). Neo4j shrinks the membership
/// on a clean leave, which can silently degrade quorum to one member (neo4j-ha.md §10); a fixed set avoids that.
public struct ClusterConfiguration: Hashable, Sendable {
    /// All voting members, sorted by id.
    public let members: [ClusterMemberConfiguration]
    /// How often every member sends a heartbeat (`ha.heartbeat_interval`).
    public let heartbeatInterval: Duration
    /// Silence after which a peer is suspected, a follower drops its master and a master without a majority of
    /// acknowledgements stops accepting writes (`ha.heartbeat_timeout`).
    public let heartbeatTimeout: Duration
    /// How long a candidate waits for votes; a retry waits this long plus a random jitter of up to this long.
    public let electionTimeout: Duration
    /// How often the shell should call `tick(now:)`.
    public var tickInterval: Duration { heartbeatInterval / 2 }
    /// How many voters the cluster has, known or not yet known: `ha.initial_hosts` names addresses, and a member
    /// learns the server ids behind them by handshake, so `members` may list fewer than this. Never below
    /// `members.count`.
    public let votingMemberCount: Int

    /// Default heartbeat interval: 500 ms (see docs/clustering-design.md for why these defaults).
    public static let defaultHeartbeatInterval = Duration.milliseconds(500)
    /// Default heartbeat time-out: 2 s (four missed heartbeats).
    public static let defaultHeartbeatTimeout = Duration.seconds(2)
    /// Default election time-out: 1 s.
    public static let defaultElectionTimeout = Duration.seconds(1)

    /// Creates a configuration.
    ///
    /// `expectedMemberCount` is the size of the voter set when only some members are known yet (the shell passes
    /// the number of initial hosts); `nil` means `members` is the whole voter set.
    ///
    /// - Precondition: at least one member, unique ids, at least one electable member unless members are still to
    ///   be learned (`expectedMemberCount` given), and `heartbeatTimeout >= 2 * heartbeatInterval` (Neo4j's own
    ///   guidance; fewer would suspect on one lost packet).
    public init(
        members: [ClusterMemberConfiguration],
        heartbeatInterval: Duration = defaultHeartbeatInterval,
        heartbeatTimeout: Duration = defaultHeartbeatTimeout,
        electionTimeout: Duration = defaultElectionTimeout,
        expectedMemberCount: Int? = nil
    ) {
        precondition(!members.isEmpty, "a cluster needs at least one member")
        precondition(Set(members.map(\.id)).count == members.count, "duplicate member ids in \(members)")
        precondition(
            expectedMemberCount != nil || members.contains(where: \.isElectable),
            "no electable member in \(members)"
        )
        precondition(heartbeatInterval > .zero, "heartbeat interval must be positive, got \(heartbeatInterval)")
        precondition(
            heartbeatTimeout >= heartbeatInterval * 2,
            "heartbeat timeout \(heartbeatTimeout) must be at least twice the interval \(heartbeatInterval)"
        )
        precondition(electionTimeout > .zero, "election timeout must be positive, got \(electionTimeout)")
        self.members = members.sorted { $0.id < $1.id }
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.electionTimeout = electionTimeout
        self.votingMemberCount = max(members.count, expectedMemberCount ?? 0)
    }

    /// Votes needed for anything that needs a majority: floor(n/2)+1 of the configured voters (known or not).
    public var quorum: Int { votingMemberCount / 2 + 1 }

    /// This configuration with `member` added (or its entry replaced), keeping the expected voter count.
    public func adding(_ member: ClusterMemberConfiguration) -> ClusterConfiguration {
        ClusterConfiguration(
            members: members.filter { $0.id != member.id } + [member],
            heartbeatInterval: heartbeatInterval,
            heartbeatTimeout: heartbeatTimeout,
            electionTimeout: electionTimeout,
            expectedMemberCount: votingMemberCount
        )
    }

    /// The configuration of `id`, if it is a member.
    public func member(_ id: MemberID) -> ClusterMemberConfiguration? {
        members.first { $0.id == id }
    }

    /// Every member id except `id`, in ascending order.
    public func peers(of id: MemberID) -> [MemberID] {
        members.lazy.map(\.id).filter { $0 != id }
    }
}

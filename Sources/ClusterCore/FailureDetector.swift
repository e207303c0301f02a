/// Heartbeat failure detector with gossiped suspicions (neo4j-ha.md §3).
///
/// - A peer not heard from for `heartbeatTimeout` is *suspected* by this observer; any heartbeat clears that
///   ("is alive").
/// - Every heartbeat carries the sender's own suspicion set. A member is *failed* when more than half of the
///   configured members suspect it (this observer plus peers it currently hears from). Deviation from Neo4j: the
///   divisor is the fixed configured size, not "members minus those I suspect", so a partitioned minority never
///   declares the majority failed; it just cannot reach quorum.
/// - A member that comes back is reported `alive` and, once fewer than a majority suspect it, `recovered`.
public struct FailureDetector: Sendable {
    /// What changed in this observer's view.
    public enum Event: Hashable, Sendable {
        /// This observer stopped hearing from the member.
        case suspected(MemberID)
        /// This observer hears from a suspected member again.
        case alive(MemberID)
        /// A majority of the configured members suspects the member.
        case failed(MemberID)
        /// A failed member is no longer suspected by a majority.
        case recovered(MemberID)
    }

    private let me: MemberID
    private var peers: [MemberID]
    private var memberCount: Int
    private let timeout: Duration
    private let startedAt: Duration
    private var lastHeard: [MemberID: Duration] = [:]
    private var reportedSuspicions: [MemberID: Set<MemberID>] = [:]
    /// Peers this observer currently suspects.
    public private(set) var suspected: Set<MemberID> = []
    /// Members a majority currently suspects.
    public private(set) var failed: Set<MemberID> = []

    /// Creates a detector for `me`, started at `now`. Peers count as unheard (but not suspected) until a time-out
    /// after start.
    public init(configuration: ClusterConfiguration, me: MemberID, now: Duration) {
        precondition(configuration.member(me) != nil, "\(me) is not in the configuration")
        self.me = me
        self.peers = configuration.peers(of: me)
        self.memberCount = configuration.votingMemberCount
        self.timeout = configuration.heartbeatTimeout
        self.startedAt = now
    }

    /// `configuration` now lists members learned by handshake at `now`; the handshake counts as hearing from them.
    public mutating func membershipChanged(to configuration: ClusterConfiguration, now: Duration) {
        let newPeers = configuration.peers(of: me)
        for peer in newPeers where !peers.contains(peer) {
            lastHeard[peer] = max(lastHeard[peer] ?? now, now)
        }
        peers = newPeers
        memberCount = configuration.votingMemberCount
    }

    /// A heartbeat arrived from `peer`, which suspects `suspecting`.
    public mutating func heartbeatReceived(from peer: MemberID, suspecting: Set<MemberID>, at now: Duration)
        -> [Event]
    {
        guard peer != me, peers.contains(peer) else { return [] }
        lastHeard[peer] = max(lastHeard[peer] ?? now, now)
        reportedSuspicions[peer] = suspecting
        var events: [Event] = []
        if suspected.remove(peer) != nil {
            events.append(.alive(peer))
        }
        events += recomputeFailed(now: now)
        return events
    }

    /// Time passed: suspect peers silent for the time-out.
    public mutating func tick(now: Duration) -> [Event] {
        var events: [Event] = []
        for peer in peers where !suspected.contains(peer) && !isHeard(peer, now: now)
            && now >= startedAt + timeout
        {
            suspected.insert(peer)
            events.append(.suspected(peer))
        }
        events += recomputeFailed(now: now)
        return events
    }

    /// Whether `peer` was heard from within the time-out (this observer always "hears" itself).
    public func isHeard(_ peer: MemberID, now: Duration) -> Bool {
        if peer == me { return true }
        guard let heard = lastHeard[peer] else { return false }
        return heard + timeout > now
    }

    /// Members (this one included) heard from within the time-out.
    public func reachableCount(now: Duration) -> Int {
        1 + peers.count { isHeard($0, now: now) }
    }

    /// How many configured members currently suspect `member`, as far as this observer knows.
    public func suspicionCount(of member: MemberID, now: Duration) -> Int {
        var count = suspected.contains(member) ? 1 : 0
        for peer in peers where peer != member && isHeard(peer, now: now) {
            if reportedSuspicions[peer]?.contains(member) == true { count += 1 }
        }
        return count
    }

    private mutating func recomputeFailed(now: Duration) -> [Event] {
        var events: [Event] = []
        for peer in peers {
            let isFailed = suspicionCount(of: peer, now: now) * 2 > memberCount
            if isFailed, failed.insert(peer).inserted {
                events.append(.failed(peer))
            } else if !isFailed, failed.remove(peer) != nil {
                events.append(.recovered(peer))
            }
        }
        return events
    }
}

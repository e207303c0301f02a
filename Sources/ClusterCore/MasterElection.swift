/// One member's view of mastership: failure detection, master election, following and the master lease.
///
/// Model: Neo4j 3.x HA (neo4j-ha.md §3–4) with the split-brain fixes its §10 asks for.
///
/// - **Election.** A member that has no master, can hear a majority of the configured members, has been up for one
///   heartbeat time-out, and outranks every electable member it hears (`ElectionCredentials.outranks`) becomes a
///   candidate for `currentEpoch + 1`. Voters (data members and arbiters) grant at most one candidate per epoch,
///   persisting the vote before answering (`.persist` precedes `.send`). A voter rejects a candidate that an
///   electable member it hears outranks, so the winner is the available instance with the highest last committed
///   tx. Slave-only members and arbiters never stand. A candidate with votes from a majority of the *configured*
///   members becomes master; without a majority nobody is elected.
/// - **Lease.** Granting a vote, or following a master's heartbeat, is a promise: for one heartbeat time-out after
///   it the voter grants no other candidate. A master counts, per follower, the send time of the newest
///   heartbeat (or vote request) that follower acknowledged; it accepts writes only while a majority (itself
///   included) acknowledged something sent within the last heartbeat time-out. Because every such follower's
///   promise outlives the master's lease, no other master can be elected while this one accepts writes, and a master
///   that cannot see a majority stops accepting writes within one heartbeat time-out.
/// - **Restarts.** A (re)started member grants no votes and does not stand for one heartbeat time-out: it may have
///   forgotten promises it made before crashing.
/// - **Epochs.** Learned only from master heartbeats, vote grants and rejections, never from a plain heartbeat, so a
///   member returning from a partition with a high epoch cannot depose a healthy master by gossip alone.
///
/// Deviations from Neo4j: the epoch is a counter rather than `(serverId << 48) | millis`; votes come from a majority
/// of the fixed configured set instead of every live member; a master that loses its majority stops accepting writes
/// by lease rather than by waiting for failure notifications.
public struct MasterElection: Sendable {
    /// What the shell must do, in order.
    public enum Action: Hashable, Sendable {
        /// Send a message to a peer.
        case send(to: MemberID, ClusterMessage)
        /// Durably store the election state; must complete before the following actions are executed.
        case persist(PersistentElectionState)
        /// This member won the election for `epoch` and may accept writes.
        case becomeMaster(Epoch)
        /// This member now follows `master` in `epoch`.
        case becomeSlave(master: MemberID, epoch: Epoch)
        /// This member lost its master (no heartbeat for a time-out, or a newer epoch began); reads only.
        case becomePending
        /// This member was master and must refuse writes from now on.
        case stopAcceptingWrites
        /// Call `tick(now:)` again after this long.
        case scheduleTimer(after: Duration)
    }

    /// The member's role as seen by this state machine.
    public enum Role: Hashable, Sendable {
        /// No master known: read-only, may stand for election.
        case pending
        /// Asking for votes for `epoch`.
        case candidate(epoch: Epoch)
        /// Master of `epoch` (writes allowed only while the lease holds, see `isAcceptingWrites(now:)`).
        case master(epoch: Epoch)
        /// Following `master` of `epoch`.
        case slave(master: MemberID, epoch: Epoch)
    }

    private struct PeerView: Sendable {
        var lastCommitted: LogPosition
        var isMaster: Bool
        var mayStand: Bool
        var lastEpoch: Epoch
    }

    /// The shared configuration (grows as the shell learns members by handshake, see `membershipChanged(to:now:)`).
    public private(set) var configuration: ClusterConfiguration
    /// This member.
    public let me: MemberID
    /// Durable election state (what the last `.persist` stored).
    public private(set) var persistent: PersistentElectionState
    /// Current role.
    public private(set) var role: Role = .pending
    /// This member's last committed transaction.
    public private(set) var lastCommitted: LogPosition
    /// The epoch of the master that committed it (see `ElectionCredentials.outranks`).
    public private(set) var lastCommittedEpoch: Epoch = .zero
    /// The failure detector fed by the same heartbeats.
    public private(set) var failureDetector: FailureDetector

    /// `ha.allow_init_cluster`: when false this member never stands while it has never seen a master (epoch 0), so
    /// it can join a cluster but never found one.
    public var allowInitCluster = true

    private let myKind: MemberKind
    private var peers: [MemberID]
    /// Set by `resign(now:)`: this incarnation is leaving and never stands again.
    private var resigned = false
    private let startedAt: Duration
    private var random: SplitMix64
    private var peerViews: [MemberID: PeerView] = [:]
    /// The master (or candidate voted for) this member promised not to vote against, and when that promise was
    /// last renewed.
    private var promise: (master: MemberID, epoch: Epoch, renewedAt: Duration)?
    /// Candidate: votes collected (voter → echoed request time). Master: acknowledgements (follower → newest
    /// echoed send time).
    private var acknowledgements: [MemberID: Duration] = [:]
    private var nextHeartbeatAt: Duration
    private var candidacyEndsAt: Duration = .zero
    private var nextElectionAt: Duration

    /// Creates the machine for `me`, (re)started at `now` with the durable state it persisted before.
    public init(
        configuration: ClusterConfiguration,
        me: MemberID,
        persistent: PersistentElectionState = PersistentElectionState(),
        lastCommitted: LogPosition,
        lastCommittedEpoch: Epoch = .zero,
        now: Duration,
        seed: UInt64
    ) {
        guard let mine = configuration.member(me) else {
            preconditionFailure("\(me) is not in the configuration \(configuration.members)")
        }
        self.configuration = configuration
        self.me = me
        self.persistent = persistent
        self.lastCommitted = lastCommitted
        self.lastCommittedEpoch = lastCommittedEpoch
        self.failureDetector = FailureDetector(configuration: configuration, me: me, now: now)
        self.myKind = mine.kind
        self.peers = configuration.peers(of: me)
        self.startedAt = now
        self.random = SplitMix64(seed: seed ^ UInt64(truncatingIfNeeded: me.rawValue))
        self.nextHeartbeatAt = now
        self.nextElectionAt = now + configuration.heartbeatTimeout
    }

    // MARK: - Queries

    /// Whether this member is master and its lease holds at `now`. The shell must check this before every commit.
    public func isAcceptingWrites(now: Duration) -> Bool {
        guard case .master = role else { return false }
        return now < leaseExpiry()
    }

    /// Whether this member is currently bound not to help elect anyone but `master` of `epoch`: it is that master
    /// with a valid lease, it promised that master within the time-out, or it is in its post-restart quiet period
    /// and has not moved past `epoch`. The simulation uses this to check the lease argument.
    public func acknowledges(master: MemberID, epoch: Epoch, now: Duration) -> Bool {
        if master == me { return isAcceptingWrites(now: now) && role == .master(epoch: epoch) }
        if let promise = activePromise(now: now), promise.master == master, promise.epoch == epoch { return true }
        return isQuiet(now: now) && persistent.currentEpoch <= epoch
    }

    /// While master: the monotonic time at which the lease runs out unless more acknowledgements arrive; nil when
    /// not master. A shell that answers "may I write?" off its event loop can compare its clock with this value.
    public var leaseExpiresAt: Duration? {
        guard case .master = role else { return nil }
        return leaseExpiry()
    }

    /// Whether this member would stand for election at all (electable kind, and allowed to found a cluster or a
    /// master has been seen).
    public var mayStand: Bool {
        myKind == .data(slaveOnly: false) && !resigned && (allowInitCluster || persistent.currentEpoch > .zero)
    }

    /// The credentials this member would offer now.
    public var credentials: ElectionCredentials {
        ElectionCredentials(member: me, lastCommitted: lastCommitted, isCurrentMaster: isMasterRole,
                            lastEpoch: lastCommittedEpoch)
    }

    // MARK: - Inputs

    /// The shell started this machine: send the first heartbeats and schedule ticks.
    public mutating func start(now: Duration) -> [Action] {
        tick(now: now)
    }

    /// The shell learned members by handshake: `configuration` must keep every member already known (with the same
    /// kind and voter count) and may add new ones. New peers count as just heard.
    public mutating func membershipChanged(to configuration: ClusterConfiguration, now: Duration) {
        for member in self.configuration.members {
            precondition(
                configuration.member(member.id) == member,
                "membership change dropped or altered \(member): \(configuration.members)"
            )
        }
        precondition(configuration.member(me) != nil, "\(me) is not in the configuration \(configuration.members)")
        self.configuration = configuration
        peers = configuration.peers(of: me)
        failureDetector.membershipChanged(to: configuration, now: now)
    }

    /// The member is shutting down cleanly. A master stops accepting writes (the shell must act on
    /// `.stopAcceptingWrites` before sending anything) and tells its peers it resigns, so they can elect a successor
    /// without waiting for their promises to lapse. Afterwards this member never stands again.
    public mutating func resign(now: Duration) -> [Action] {
        var actions = expireLease(now: now)
        resigned = true
        guard case .master(let epoch) = role else { return actions }
        role = .pending
        acknowledgements = [:]
        actions += [.stopAcceptingWrites, .becomePending]
        actions += peers.map { .send(to: $0, .resign(epoch: epoch)) }
        return actions
    }

    /// A local commit or catch-up moved the log to `position` (a store copy may also move it backwards).
    public mutating func logPositionChanged(to position: LogPosition) {
        lastCommitted = position
    }

    /// As `logPositionChanged(to:)`, also giving the epoch of the master that committed the last transaction, which
    /// ranks ahead of the tx id in elections.
    public mutating func logPositionChanged(to position: LogPosition, lastEpoch: Epoch) {
        lastCommitted = position
        lastCommittedEpoch = lastEpoch
    }

    /// The timer fired.
    public mutating func tick(now: Duration) -> [Action] {
        var actions = expireLease(now: now)
        _ = failureDetector.tick(now: now)
        switch role {
        case .slave:
            if activePromise(now: now) == nil {
                role = .pending
                actions.append(.becomePending)
            }
        case .candidate:
            if now >= candidacyEndsAt { role = .pending }
        case .pending, .master:
            break
        }
        if now >= nextHeartbeatAt {
            nextHeartbeatAt = now + configuration.heartbeatInterval
            actions += broadcastHeartbeat(now: now)
        }
        if role == .pending, shouldStandForElection(now: now) {
            actions += startElection(now: now)
        }
        actions.append(.scheduleTimer(after: configuration.tickInterval))
        return actions
    }

    /// A message arrived from `peer`.
    public mutating func messageReceived(_ message: ClusterMessage, from peer: MemberID, now: Duration) -> [Action] {
        guard peer != me, peers.contains(peer) else { return [] }
        switch message {
        case .heartbeat(let heartbeat):
            return heartbeatReceived(heartbeat, from: peer, now: now)
        case .heartbeatAck(let epoch, let echoedSentAt):
            return heartbeatAckReceived(epoch: epoch, echoedSentAt: echoedSentAt, from: peer, now: now)
        case .staleEpoch(let current):
            var actions = expireLease(now: now)
            actions += adoptEpoch(current, now: now)
            return actions
        case .voteRequest(let request):
            return voteRequested(request, from: peer, now: now)
        case .voteResponse(let epoch, let granted, let echoedSentAt):
            return voteReceived(epoch: epoch, granted: granted, echoedSentAt: echoedSentAt, from: peer, now: now)
        case .resign(let epoch):
            return resignReceived(epoch: epoch, from: peer, now: now)
        }
    }

    /// A heartbeat arrived.
    public mutating func heartbeatReceived(_ heartbeat: Heartbeat, from peer: MemberID, now: Duration) -> [Action] {
        var actions = expireLease(now: now)
        _ = failureDetector.heartbeatReceived(from: peer, suspecting: Set(heartbeat.suspects), at: now)
        peerViews[peer] = PeerView(lastCommitted: heartbeat.lastCommitted, isMaster: heartbeat.isMaster,
                                   mayStand: heartbeat.mayStand, lastEpoch: heartbeat.lastEpoch)
        guard heartbeat.isMaster else { return actions }
        if heartbeat.epoch < persistent.currentEpoch {
            // A master from an older epoch: fence it (Neo4j's InvalidEpochException forces a new election).
            actions.append(.send(to: peer, .staleEpoch(current: persistent.currentEpoch)))
            return actions
        }
        if heartbeat.epoch > persistent.currentEpoch {
            // Recording the master as this epoch's choice keeps this member from helping anyone else to `epoch`.
            actions += adoptEpoch(heartbeat.epoch, votedFor: peer, now: now)
        }
        if case .master = role {
            // Two masters in one epoch would need two majorities of votes; reaching here means durable state was
            // lost. Like Neo4j's ILLEGAL transition: step down and let a new election sort it out.
            role = .pending
            actions += [.stopAcceptingWrites, .becomePending]
            return actions
        }
        promise = (peer, heartbeat.epoch, now)
        if role != .slave(master: peer, epoch: heartbeat.epoch) {
            role = .slave(master: peer, epoch: heartbeat.epoch)
            actions.append(.becomeSlave(master: peer, epoch: heartbeat.epoch))
        }
        actions.append(.send(to: peer, .heartbeatAck(epoch: heartbeat.epoch, echoedSentAt: heartbeat.sentAt)))
        return actions
    }

    /// The master of `epoch` resigned: release the promise made to it (only that one) and stop counting it as a
    /// contender until it says otherwise. It stopped accepting writes before sending this, so electing a successor
    /// now cannot produce two writers.
    public mutating func resignReceived(epoch: Epoch, from peer: MemberID, now: Duration) -> [Action] {
        var actions = expireLease(now: now)
        peerViews[peer]?.isMaster = false
        peerViews[peer]?.mayStand = false
        if let promise, promise.master == peer, promise.epoch == epoch {
            self.promise = nil
        }
        if role == .slave(master: peer, epoch: epoch) {
            role = .pending
            actions.append(.becomePending)
        }
        return actions
    }

    /// A follower acknowledged a master heartbeat.
    public mutating func heartbeatAckReceived(epoch: Epoch, echoedSentAt: Duration, from peer: MemberID,
                                              now: Duration) -> [Action]
    {
        let actions = expireLease(now: now)
        guard role == .master(epoch: epoch) else { return actions }
        acknowledgements[peer] = max(acknowledgements[peer] ?? echoedSentAt, echoedSentAt)
        return actions
    }

    /// A candidate asked for this member's vote.
    public mutating func voteRequested(_ request: VoteRequest, from peer: MemberID, now: Duration) -> [Action] {
        var actions = expireLease(now: now)
        guard canGrant(request, from: peer, now: now) else {
            actions.append(
                .send(
                    to: peer,
                    .voteResponse(epoch: persistent.currentEpoch, granted: false, echoedSentAt: request.sentAt)
                )
            )
            return actions
        }
        if request.epoch > persistent.currentEpoch {
            actions += leaveRoleForNewEpoch()
        }
        persistent = PersistentElectionState(currentEpoch: request.epoch, votedFor: peer)
        promise = (peer, request.epoch, now)
        actions.append(.persist(persistent))
        actions.append(.send(to: peer, .voteResponse(epoch: request.epoch, granted: true, echoedSentAt: request.sentAt)))
        return actions
    }

    /// A voter answered this member's vote request.
    public mutating func voteReceived(epoch: Epoch, granted: Bool, echoedSentAt: Duration, from peer: MemberID,
                                      now: Duration) -> [Action]
    {
        var actions = expireLease(now: now)
        if epoch > persistent.currentEpoch {
            actions += adoptEpoch(epoch, now: now)
            return actions
        }
        guard granted, role == .candidate(epoch: epoch), now < candidacyEndsAt else { return actions }
        acknowledgements[peer] = echoedSentAt
        if acknowledgements.count + 1 >= configuration.quorum {
            actions += becomeMaster(epoch: epoch, now: now)
        }
        return actions
    }

    // MARK: - Internals

    private var isMasterRole: Bool {
        if case .master = role { return true }
        return false
    }

    private func isQuiet(now: Duration) -> Bool {
        now < startedAt + configuration.heartbeatTimeout
    }

    private func activePromise(now: Duration) -> (master: MemberID, epoch: Epoch)? {
        if case .master(let epoch) = role, now < leaseExpiry() { return (me, epoch) }
        guard let promise, promise.renewedAt + configuration.heartbeatTimeout > now else { return nil }
        return (promise.master, promise.epoch)
    }

    /// The lease ends one time-out after the send time acknowledged by the (quorum-1)-th most recent follower.
    private func leaseExpiry() -> Duration {
        let needed = configuration.quorum - 1
        if needed == 0 { return .seconds(Int64.max) }
        let times = acknowledgements.values.sorted(by: >)
        guard times.count >= needed else { return .zero }
        return times[needed - 1] + configuration.heartbeatTimeout
    }

    private mutating func expireLease(now: Duration) -> [Action] {
        guard case .master = role, now >= leaseExpiry() else { return [] }
        role = .pending
        acknowledgements = [:]
        return [.stopAcceptingWrites]
    }

    private mutating func adoptEpoch(_ epoch: Epoch, votedFor: MemberID? = nil, now: Duration) -> [Action] {
        guard epoch > persistent.currentEpoch else { return [] }
        var actions = leaveRoleForNewEpoch()
        persistent = PersistentElectionState(currentEpoch: epoch, votedFor: votedFor)
        actions.append(.persist(persistent))
        return actions
    }

    private mutating func leaveRoleForNewEpoch() -> [Action] {
        switch role {
        case .master:
            role = .pending
            acknowledgements = [:]
            return [.stopAcceptingWrites, .becomePending]
        case .slave:
            role = .pending
            return [.becomePending]
        case .candidate:
            role = .pending
            acknowledgements = [:]
            return []
        case .pending:
            return []
        }
    }

    private func isElectable(_ member: MemberID) -> Bool {
        configuration.member(member)?.isElectable ?? false
    }

    /// Whether some electable member this one can hear (itself included) outranks `candidate`.
    private func someoneOutranks(_ candidate: ElectionCredentials, now: Duration) -> Bool {
        if candidate.member != me, mayStand, credentials.outranks(candidate) { return true }
        for peer in peers where peer != candidate.member && isElectable(peer)
            && failureDetector.isHeard(peer, now: now)
        {
            guard let view = peerViews[peer], view.mayStand else { continue }
            let theirs = ElectionCredentials(member: peer, lastCommitted: view.lastCommitted,
                                             isCurrentMaster: view.isMaster, lastEpoch: view.lastEpoch)
            if theirs.outranks(candidate) { return true }
        }
        return false
    }

    private func canGrant(_ request: VoteRequest, from peer: MemberID, now: Duration) -> Bool {
        guard request.credentials.member == peer, isElectable(peer) else { return false }
        guard !isQuiet(now: now) else { return false }
        if request.epoch < persistent.currentEpoch { return false }
        // Within one epoch a member backs at most one master: the one it voted for (a retransmitted request is
        // answered again). An epoch learned without voting is not open for votes either.
        if request.epoch == persistent.currentEpoch, persistent.votedFor != peer { return false }
        if let promised = activePromise(now: now), promised.master != peer { return false }
        // An electable member never backs a candidate whose log is behind its own, even while it cannot stand
        // itself (a master that is resigning, a member not allowed to found the cluster). Otherwise its vote can
        // elect a member that lacks writes this voter holds and a strict push acknowledged — seen when a cleanly
        // stopping master voted for a slave one transaction behind the other slave. Slave-only members and
        // arbiters do not apply this rule: strict pushes go to electable slaves only, so what a slave-only member
        // holds beyond the others is optimistic data, and refusing on it could leave the cluster without a master.
        if myKind == .data(slaveOnly: false), credentials.hasNewerLog(than: request.credentials) { return false }
        return !someoneOutranks(request.credentials, now: now)
    }

    private func shouldStandForElection(now: Duration) -> Bool {
        guard mayStand, !isQuiet(now: now), now >= nextElectionAt else { return false }
        guard activePromise(now: now) == nil else { return false }
        guard failureDetector.reachableCount(now: now) >= configuration.quorum else { return false }
        return !someoneOutranks(credentials, now: now)
    }

    private mutating func startElection(now: Duration) -> [Action] {
        let epoch = persistent.currentEpoch.next
        persistent = PersistentElectionState(currentEpoch: epoch, votedFor: me)
        role = .candidate(epoch: epoch)
        acknowledgements = [:]
        candidacyEndsAt = now + configuration.electionTimeout
        let jitterNanos = Int64(random.next() % UInt64(configuration.electionTimeout / .nanoseconds(1)))
        nextElectionAt = candidacyEndsAt + .nanoseconds(jitterNanos)
        var actions: [Action] = [.persist(persistent)]
        if configuration.quorum == 1 {
            return actions + becomeMaster(epoch: epoch, now: now)
        }
        let request = VoteRequest(epoch: epoch, credentials: credentials, sentAt: now)
        for peer in peers {
            actions.append(.send(to: peer, .voteRequest(request)))
        }
        return actions
    }

    private mutating func becomeMaster(epoch: Epoch, now: Duration) -> [Action] {
        role = .master(epoch: epoch)
        promise = nil
        nextHeartbeatAt = now + configuration.heartbeatInterval
        return [.becomeMaster(epoch)] + heartbeats(now: now)
    }

    private func heartbeats(now: Duration) -> [Action] {
        let epochToAssert: Epoch
        let isMaster: Bool
        if case .master(let epoch) = role {
            (epochToAssert, isMaster) = (epoch, true)
        } else {
            (epochToAssert, isMaster) = (persistent.currentEpoch, false)
        }
        let heartbeat = Heartbeat(
            epoch: epochToAssert,
            isMaster: isMaster,
            lastCommitted: lastCommitted,
            suspects: failureDetector.suspected.sorted(),
            sentAt: now,
            mayStand: mayStand,
            lastEpoch: lastCommittedEpoch
        )
        return peers.map { .send(to: $0, .heartbeat(heartbeat)) }
    }

    private mutating func broadcastHeartbeat(now: Duration) -> [Action] {
        heartbeats(now: now)
    }
}

// ClusterSim: deterministic simulation of a Trellis HA cluster (test support).
//
// N `MasterElection` machines run on one thread against a simulated network and clock, and the master side of
// replication (`ReplicationStateMachine`) with slaves that pull, apply pushes and resolve branches (`BranchDetector`,
// store copy) over the same faulty network. Events sit in a queue ordered by (simulated time, sequence number) and
// every random choice comes from one seeded generator, so a seed replays a run exactly. Shape after TigerBeetle's
// VOPR and FoundationDB's simulation (STYLE.md, "Deterministic cluster simulation"): a safety phase with faults,
// then a liveness phase with every fault healed.

import ClusterCore

/// Knobs of one simulated run.
public struct SimulationOptions: Sendable {
    /// Length of the fault-injecting safety phase, simulated time.
    public var safetyPhase: Duration = .seconds(30)
    /// After healing, a single master accepted by every member must exist within this bound.
    public var livenessBound: Duration = .seconds(30)
    /// Mean gap between injected faults.
    public var meanFaultInterval: Duration = .milliseconds(1_500)
    /// How often the simulated client tries a write on whoever accepts writes.
    public var commitInterval: Duration = .milliseconds(100)
    /// Member counts to choose from.
    public var memberCounts: ClosedRange<Int> = 3...5
    /// `ha.tx_push_factor`; `nil` picks one per seed from 0 to the number of data members minus one.
    public var pushFactor: Int?
    /// `ha.tx_push_strategy`; `nil` picks one per seed.
    public var pushStrategy: PushStrategy?
    /// Optimistic (Neo4j) or strict push; `nil` picks one per seed.
    public var acknowledgement: PushAcknowledgement?
    /// `ha.pull_interval`; `nil` picks one per seed between 100 ms and 2 s.
    public var pullInterval: Duration?
    /// `ha.pull_batch_size`: transactions per pull response.
    public var pullBatchSize = 16
    /// A push not acknowledged within this is counted as failed and the next slave in order is tried.
    public var pushTimeout: Duration = .milliseconds(800)
    /// Transactions a master keeps in its log; a slave further behind gets a store copy (`BranchDetector.outOfDate`).
    public var logRetention = 48
    /// What members offer as "last committed" in elections. `.lastCommittedTx` is what ClusterCore's
    /// `ElectionCredentials` compares today (Neo4j's rule). `.lastEpochThenTx` ranks first by the epoch of the
    /// member's last transaction, then by its tx id (Raft's "at least as up to date"): the sim feeds that rank to
    /// `MasterElection` as its position, to show the rule strict push needs (docs/clustering-design.md).
    public var electionRanking: ElectionRanking = .lastEpochThenTx
    /// Strict push only to electable slaves, so every member holding an acknowledged write defends it in votes
    /// (a slave-only voter does not weigh its own log today); likewise a slave-only author of a forwarded write does
    /// not count as holding it. `false` pushes to any data slave and counts any author, as Neo4j does.
    public var strictPushesToElectableSlavesOnly = true
    /// Percentage of client writes sent to a slave, which forwards them to its master; the slave answers its client
    /// once it holds the commit itself (as `HAInstance` catches up before answering). 0 keeps every write on the
    /// master and draws no extra random numbers, so seeds replay as before.
    public var forwardedWritePercent = 0

    /// Default options.
    public init() {}
}

/// How simulated members rank themselves in elections (see `SimulationOptions.electionRanking`).
public enum ElectionRanking: Hashable, Sendable {
    /// The last committed tx id only.
    case lastCommittedTx
    /// The epoch of the last committed transaction, then its tx id.
    case lastEpochThenTx
}

/// A violated invariant, with the seed that replays it.
public struct SimulationFailure: Error, CustomStringConvertible, Sendable {
    /// The seed of the failing run (`SIM_SEED=<seed>` replays it).
    public let seed: UInt64
    /// Simulated time of the violation.
    public let time: Duration
    /// What went wrong.
    public let message: String
    /// The last events before the violation.
    public let trace: [String]

    public var description: String {
        "simulation seed \(seed) failed at \(time): \(message) (replay with SIM_SEED=\(seed))\n"
            + trace.suffix(40).joined(separator: "\n")
    }
}

/// What a successful run observed.
public struct SimulationReport: Sendable {
    /// The run's seed.
    public let seed: UInt64
    /// Members in the cluster.
    public let memberCount: Int
    /// Events processed.
    public let events: Int
    /// Masters elected (one per epoch).
    public let elections: Int
    /// Faults injected.
    public let faults: Int
    /// Writes accepted by a master.
    public let commits: Int
    /// The run's `ha.tx_push_factor`.
    public let pushFactor: Int
    /// The run's `ha.tx_push_strategy`.
    public let pushStrategy: PushStrategy
    /// Optimistic or strict push in this run.
    public let acknowledgement: PushAcknowledgement
    /// Whether this run's configuration promises that acknowledged writes survive: strict push to enough slaves that
    /// every majority includes one of them (`pushFactor >= members - quorum`). The run fails if such a write is lost.
    public let guaranteesAcknowledgedWrites: Bool
    /// Client writes sent to a slave and forwarded to its master.
    public let forwardedWrites: Int
    /// Writes whose commit was reported successful to the client.
    public let acknowledgedWrites: Int
    /// Writes reported failed (strict shortfall, or the master lost its mastership while waiting for pushes).
    public let failedWrites: Int
    /// Acknowledged writes missing from the final master's log: what the configuration lost at failovers. Always 0
    /// when `guaranteesAcknowledgedWrites`; each lost write is checked to be in some member's branched store.
    public let lostAcknowledgedWrites: Int
    /// Of `lostAcknowledgedWrites`, those no other member ever held (the master acknowledged them alone).
    public let lostNeverReplicated: Int
    /// Joins where `BranchDetector` found a diverged log (kept as a branch, replaced by a store copy).
    public let branchesDetected: Int
    /// Store copies (branched or too far behind the master's log).
    public let storeCopies: Int
    /// Simulated time from healing to the cluster agreeing on one master.
    public let timeToConverge: Duration
    /// Simulated time from then (the client stops writing) until every data member's log equals the master's.
    public let timeToCatchUp: Duration
}

/// One deterministic simulated cluster run.
public struct ClusterSimulation {
    private enum EventKind {
        case tick(MemberID, incarnation: Int)
        case deliver(from: MemberID, to: MemberID, ClusterMessage)
        case deliverData(from: MemberID, to: MemberID, DataMessage)
        case pullTimer(MemberID, incarnation: Int)
        case pushTimeout(master: MemberID, incarnation: Int, epoch: Epoch, tx: LogPosition, slave: MemberID)
        case fault
        case commit
        case heal
    }

    private struct Event {
        let time: Duration
        let sequence: UInt64
        let kind: EventKind

        func precedes(_ other: Event) -> Bool {
            (time, sequence) < (other.time, other.sequence)
        }
    }

    /// Replication traffic on the data port (the election's messages are `ClusterMessage`s).
    enum DataMessage {
        /// Master → slave: consecutive transactions after `base` (the stamp before the first; `nil` from tx 1).
        /// `isPush` marks a commit push the master waits for; otherwise it answers a pull.
        case transactions(epoch: Epoch, base: TransactionStamp?, stamps: [TransactionStamp], isPush: Bool)
        /// Slave → master: whether the pushed `tx` is now in the slave's log.
        case pushAck(epoch: Epoch, tx: LogPosition, applied: Bool)
        /// Slave → master: "my last transaction is `last`; send what follows" (the branch check happens here).
        case pullRequest(epoch: Epoch, last: TransactionStamp?)
        /// Master → slave: replace your store with mine (`verdict` says why).
        case storeCopy(epoch: Epoch, source: SimulatedLog, verdict: BranchDetector.Verdict)
        /// Slave → master: a client write sent to the slave, to commit on the master.
        case forward(epoch: Epoch, payload: UInt64)
        /// Master → slave: the forwarded write committed (and, under strict push, reached enough slaves) as `stamp`.
        case forwardCommitted(epoch: Epoch, stamp: TransactionStamp)
    }

    private struct TraceLine {
        enum Entry {
            case text(String)
            case delivery(from: MemberID, to: MemberID, ClusterMessage)
        }

        let time: Duration
        let entry: Entry

        var formatted: String {
            switch entry {
            case .text(let line): return "\(time) \(line)"
            case .delivery(let from, let to, let message): return "\(time) \(from) → \(to): \(message)"
            }
        }
    }

    private struct MasterTerm: Hashable {
        let master: MemberID
        let epoch: Epoch
    }

    private struct Member {
        var machine: MasterElection
        var isUp = true
        var isPaused = false
        var incarnation = 0
        var persisted = PersistentElectionState()
        var log: SimulatedLog
        var deferred: [Event] = []
        /// Master side, while master of `replicationEpoch`: open commits and their pushes.
        var replication: ReplicationStateMachine?
        var replicationEpoch = Epoch.zero
        /// Master side: when each data follower last acknowledged a heartbeat of this mastership.
        var followerAcks: [MemberID: Duration] = [:]
        /// Slave side: the master term whose branch check this member passed (pull answered or store copied).
        var synced: MasterTerm?
        /// Master side: the slave that forwarded each open commit.
        var forwardedAuthors: [UInt64: MemberID] = [:]
        /// Slave side: forwarded writes the master committed, waiting until this member holds them.
        var awaitingCommits: [TransactionStamp] = []
        var isData: Bool
    }

    private struct Link: Hashable {
        let from: MemberID
        let to: MemberID
    }

    /// The seed of this run.
    public let seed: UInt64
    private let options: SimulationOptions
    private let configuration: ClusterConfiguration
    private var random: SplitMix64
    private var queue: [Event] = []
    private var sequence: UInt64 = 0
    private var now: Duration = .zero
    /// Members by `MemberID.index` (ids are 1...n). An array, not a dictionary: reading or changing one field of a
    /// member must not copy the member (a dictionary lookup returns a copy, and a copied log copies on append).
    private var members: [Member] = []
    private let ids: [MemberID]
    private var blocked: Set<Link> = []
    private var dropPercent = 0
    private var duplicatePercent = 0
    private var maxDelay: Duration = .milliseconds(20)
    private var healed = false
    private var healedAt: Duration = .zero
    private var convergedAt: Duration?
    private var mastersByEpoch: [Epoch: MemberID] = [:]
    private var trace: [TraceLine] = []
    private var eventCount = 0
    private var faultCount = 0
    private var commitCount = 0
    private var branchCount = 0
    private var storeCopyCount = 0
    private let pushFactor: Int
    private let pushStrategy: PushStrategy
    private let acknowledgement: PushAcknowledgement
    private let pullInterval: Duration
    private let guaranteesAcknowledgedWrites: Bool
    /// Every write acknowledged to the client, in order.
    private var acknowledged: [TransactionStamp] = []
    private var failedWrites = 0
    private var nextPayload: UInt64 = 0
    /// Logs (their diverged tails) moved aside by store copies: where optimistic losses must be found.
    private var branchedStores: [[TransactionStamp]] = []
    private var writesStopped = false
    private var forwardedWrites = 0
    private var acknowledgedChecksums: Set<UInt64> = []
    /// Checksums of every transaction some member other than its master has held (applied or copied).
    private var replicatedChecksums: Set<UInt64> = []
    private var rolesConvergedAt: Duration = .zero
    /// Set when a log, a role or a member's liveness changed: only then can `checkReplication` find something new.
    private var replicationChanged = false

    /// Builds a random cluster (size, arbiters, slave-only members, starting logs) from `seed`.
    public init(seed: UInt64, options: SimulationOptions = SimulationOptions()) {
        self.seed = seed
        self.options = options
        var random = SplitMix64(seed: seed)
        let count = options.memberCounts.lowerBound
            + Int(random.next() % UInt64(options.memberCounts.count))
        var configured: [ClusterMemberConfiguration] = []
        for index in 1...count {
            let roll = random.next() % 10
            // Member 1 is always an electable data member so there is a possible master.
            let kind: MemberKind = index == 1 || roll < 6 ? .data(slaveOnly: false)
                : roll < 8 ? .data(slaveOnly: true) : .arbiter
            configured.append(ClusterMemberConfiguration(id: MemberID(index), kind: kind))
        }
        configuration = ClusterConfiguration(members: configured)
        ids = configuration.members.map(\.id)
        // A common history (epoch 0, written before clustering) that members hold prefixes of.
        var genesis = SimulatedLog()
        for payload in 1...3 { _ = genesis.commit(epoch: .zero, master: MemberID(0), payload: UInt64(payload)) }
        for member in configuration.members {
            var log = SimulatedLog()
            if member.kind != .arbiter {
                for tx in 1...(1 + random.next() % 3) { log.append(genesis.stamp(at: tx)!) }
            }
            let machine = MasterElection(
                configuration: configuration, me: member.id,
                lastCommitted: Self.electionPosition(of: log, ranking: options.electionRanking), now: .zero,
                seed: random.next()
            )
            precondition(member.id.index == members.count, "simulated member ids must be 1...n, got \(member.id)")
            members.append(Member(machine: machine, log: log, isData: member.kind != .arbiter))
        }
        let dataCount = configured.count { $0.kind != .arbiter }
        pushFactor = options.pushFactor ?? Int(random.next() % UInt64(dataCount))
        let strategies: [PushStrategy] = [.fixedAscending, .fixedDescending, .roundRobin]
        pushStrategy = options.pushStrategy ?? strategies[Int(random.next() % 3)]
        acknowledgement = options.acknowledgement ?? (random.next() % 2 == 0 ? .optimistic : .strict)
        pullInterval = options.pullInterval ?? .milliseconds(100 + Int64(random.next() % 1_900))
        guaranteesAcknowledgedWrites = acknowledgement == .strict
            && pushFactor >= configuration.members.count - configuration.quorum
        self.random = random
    }

    /// Runs the safety phase and the liveness phase; throws the first invariant violation.
    public mutating func run() throws(SimulationFailure) -> SimulationReport {
        record(
            "cluster: \(configuration.members.map { "\($0.id.rawValue):\($0.kind)" }.joined(separator: " ")), "
                + "push factor \(pushFactor) \(pushStrategy) \(acknowledgement), pull every \(pullInterval)"
        )
        for id in ids {
            try perform(members[id.index].machine.start(now: now), by: id)
            if members[id.index].isData { schedule(.pullTimer(id, incarnation: 0), after: pullInterval) }
        }
        schedule(.fault, after: randomDuration(upTo: options.meanFaultInterval * 2))
        schedule(.commit, after: options.commitInterval)
        schedule(.heal, after: options.safetyPhase)
        let deadline = options.safetyPhase + options.livenessBound
        while let event = popEvent() {
            if event.time > deadline { break }
            now = event.time
            eventCount += 1
            try handle(event)
            try checkSafety()
            if replicationChanged {
                try checkReplication()
                replicationChanged = false
            }
            if healed, convergedAt == nil, isConverged() {
                if !writesStopped {
                    // One master again: stop the client so the logs can be compared once everyone caught up.
                    writesStopped = true
                    rolesConvergedAt = now
                    record("roles converged; client writes stop")
                }
                if logsConverged() {
                    convergedAt = now
                    break
                }
            }
        }
        guard let convergedAt else {
            throw failure("no single master with every log caught up within \(options.livenessBound) after healing; "
                + "roles: \(roles())")
        }
        let (lost, lostAlone) = try checkFinalLog()
        return SimulationReport(
            seed: seed, memberCount: ids.count, events: eventCount, elections: mastersByEpoch.count,
            faults: faultCount, commits: commitCount, pushFactor: pushFactor, pushStrategy: pushStrategy,
            acknowledgement: acknowledgement, guaranteesAcknowledgedWrites: guaranteesAcknowledgedWrites,
            forwardedWrites: forwardedWrites,
            acknowledgedWrites: acknowledged.count, failedWrites: failedWrites, lostAcknowledgedWrites: lost,
            lostNeverReplicated: lostAlone,
            branchesDetected: branchCount, storeCopies: storeCopyCount, timeToConverge: rolesConvergedAt - healedAt,
            timeToCatchUp: convergedAt - rolesConvergedAt
        )
    }

    // MARK: - Events

    private mutating func handle(_ event: Event) throws(SimulationFailure) {
        switch event.kind {
        case .tick(let id, let incarnation):
            guard members[id.index].isUp, members[id.index].incarnation == incarnation else { return }
            if members[id.index].isPaused {
                members[id.index].deferred.append(event)
                return
            }
            try perform(members[id.index].machine.tick(now: now), by: id)
        case .deliver(let from, let to, let message):
            guard members[to.index].isUp else { return }
            if members[to.index].isPaused {
                members[to.index].deferred.append(event)
                return
            }
            recordDelivery(from: from, to: to, message)
            try perform(members[to.index].machine.messageReceived(message, from: from, now: now), by: to)
            if case .heartbeatAck(let epoch, _) = message, members[from.index].isData,
                members[to.index].machine.role == .master(epoch: epoch)
            {
                members[to.index].followerAcks[from] = now
            }
        case .deliverData(let from, let to, let message):
            guard members[to.index].isUp else { return }
            if members[to.index].isPaused {
                members[to.index].deferred.append(event)
                return
            }
            try dataReceived(message, from: from, by: to)
        case .pullTimer(let id, let incarnation):
            guard members[id.index].isUp, members[id.index].incarnation == incarnation else { return }
            if members[id.index].isPaused {
                members[id.index].deferred.append(event)
                return
            }
            requestPull(by: id)
            schedule(.pullTimer(id, incarnation: incarnation), after: pullInterval)
        case .pushTimeout(let master, let incarnation, let epoch, let tx, let slave):
            guard members[master.index].isUp, members[master.index].incarnation == incarnation else { return }
            if members[master.index].isPaused {
                members[master.index].deferred.append(event)
                return
            }
            guard members[master.index].replicationEpoch == epoch,
                let actions = members[master.index].replication?.pushFailed(tx, to: slave)
            else { return }
            try performReplication(actions, by: master, epoch: epoch)
        case .commit:
            if !writesStopped {
                if options.forwardedWritePercent > 0, Int(random.next() % 100) < options.forwardedWritePercent,
                    let slave = forwardingSlave()
                {
                    forwardWrite(from: slave)
                } else {
                    for id in ids where members[id.index].isUp && !members[id.index].isPaused
                        && members[id.index].machine.isAcceptingWrites(now: now)
                    {
                        nextPayload += 1
                        try commitWrite(on: id, payload: nextPayload, author: nil)
                    }
                }
            }
            schedule(.commit, after: options.commitInterval)
        case .fault:
            guard !healed else { return }
            try injectFault()
            schedule(.fault, after: randomDuration(upTo: options.meanFaultInterval * 2))
        case .heal:
            try heal()
        }
    }

    private mutating func perform(_ actions: [MasterElection.Action], by id: MemberID) throws(SimulationFailure) {
        if !actions.isEmpty { replicationChanged = true }
        for action in actions {
            switch action {
            case .send(let to, let message):
                send(message, from: id, to: to)
            case .persist(let state):
                let old = members[id.index].persisted
                if state.currentEpoch < old.currentEpoch {
                    throw failure("\(id) persisted \(state.currentEpoch) after \(old.currentEpoch)")
                }
                if state.currentEpoch == old.currentEpoch, let voted = old.votedFor, state.votedFor != voted {
                    throw failure("\(id) changed its vote in \(state.currentEpoch) from \(voted) to \(state)")
                }
                members[id.index].persisted = state
            case .becomeMaster(let epoch):
                record("\(id) becomes master of \(epoch) at \(describe(members[id.index].log.last))")
                if let existing = mastersByEpoch[epoch], existing != id {
                    throw failure("two masters in \(epoch): \(existing) and \(id)")
                }
                if configuration.member(id)?.isElectable != true {
                    throw failure("\(id) (\(configuration.member(id)!.kind)) became master")
                }
                mastersByEpoch[epoch] = id
                try checkAcknowledgedWrites(newMaster: id, epoch: epoch)
                dropReplication(of: id)
                members[id.index].replication = ReplicationStateMachine(
                    pushFactor: pushFactor, strategy: pushStrategy, acknowledgement: acknowledgement
                )
                members[id.index].replicationEpoch = epoch
                members[id.index].synced = nil
            case .becomeSlave(let master, let epoch):
                record("\(id) follows \(master) in \(epoch)")
                members[id.index].synced = nil
                failAwaitingCommits(of: id)
                // A (re)joining slave checks its history against the new master straight away.
                requestPull(by: id)
            case .becomePending:
                record("\(id) pending")
                members[id.index].synced = nil
                failAwaitingCommits(of: id)
                dropReplication(of: id)
            case .stopAcceptingWrites:
                record("\(id) stops accepting writes")
                dropReplication(of: id)
            case .scheduleTimer(let after):
                schedule(.tick(id, incarnation: members[id.index].incarnation), after: after)
            }
        }
    }

    // MARK: - Replication

    /// The client writes on the member that accepts writes: commit locally, then push by the replication machine.
    private mutating func commitWrite(on id: MemberID, payload: UInt64, author: MemberID?) throws(SimulationFailure) {
        guard case .master(let epoch) = members[id.index].machine.role, members[id.index].replication != nil,
            members[id.index].replicationEpoch == epoch
        else {
            throw failure("\(id) accepts writes (\(members[id.index].machine.role)) without replication state")
        }
        let stamp = members[id.index].log.commit(epoch: epoch, master: id, payload: payload)
        members[id.index].log.prune(retaining: options.logRetention)
        members[id.index].machine.logPositionChanged(to: electionPosition(of: members[id.index].log))
        commitCount += 1
        replicationChanged = true
        let acks = members[id.index].followerAcks
        let electableOnly = acknowledgement == .strict && options.strictPushesToElectableSlavesOnly
        let slaves = ids.filter { other in
            other != id && members[other.index].isData
                && (!electableOnly || configuration.member(other)!.isElectable)
                && acks[other].map { now - $0 < configuration.heartbeatTimeout } == true
        }
        // The author catches up before answering its client, so it counts as one of the holders (Neo4j's rule) —
        // under strict push only if it will defend the write in votes.
        var counted = author
        if let author, electableOnly, !configuration.member(author)!.isElectable { counted = nil }
        if let author { members[id.index].forwardedAuthors[stamp.tx.lastCommittedTx] = author }
        let actions = members[id.index].replication!.transactionCommitted(
            stamp.tx, author: counted, slaves: slaves.filter { $0 != author }
        )
        try performReplication(actions, by: id, epoch: epoch)
    }

    private mutating func performReplication(_ actions: [ReplicationStateMachine.Action], by master: MemberID,
                                              epoch: Epoch) throws(SimulationFailure)
    {
        for action in actions {
            switch action {
            case .push(let tx, let slave):
                // The push carries a few preceding transactions too, so a slave slightly behind still connects.
                let last = tx.lastCommittedTx
                let first = last > 8 ? last - 7 : 1
                let log = members[master.index].log
                let stamps = log.stamps(after: first - 1, limit: Int(last - first + 1))
                sendData(
                    .transactions(epoch: epoch, base: log.stamp(at: first - 1), stamps: stamps, isPush: true),
                    from: master, to: slave
                )
                schedule(
                    .pushTimeout(master: master, incarnation: members[master.index].incarnation, epoch: epoch, tx: tx,
                                 slave: slave),
                    after: options.pushTimeout
                )
            case .acknowledgeCommit(let tx):
                // Like the server, the master does not look at its lease again here: once the slaves hold the
                // transaction, their votes protect it (docs/clustering-design.md, "Why strict push holds").
                let stamp = members[master.index].log.stamp(at: tx.lastCommittedTx)!
                if let author = members[master.index].forwardedAuthors.removeValue(forKey: tx.lastCommittedTx) {
                    // The author answers its client once it holds the transaction.
                    sendData(.forwardCommitted(epoch: epoch, stamp: stamp), from: master, to: author)
                } else {
                    acknowledged.append(stamp)
                    acknowledgedChecksums.insert(stamp.checksum)
                    record("\(master) acknowledges \(describe(stamp))")
                }
            case .failCommit(let tx, let replicated, let required):
                failedWrites += 1
                members[master.index].forwardedAuthors[tx.lastCommittedTx] = nil
                record("\(master) fails \(tx): \(replicated) of \(required) slaves")
            case .reportShortfall:
                break
            }
        }
    }

    /// Leaving mastership: commits still waiting for acknowledgements are reported failed to their clients.
    private mutating func dropReplication(of id: MemberID) {
        if let open = members[id.index].replication?.pendingCount { failedWrites += open }
        members[id.index].replication = nil
        members[id.index].followerAcks = [:]
        members[id.index].forwardedAuthors = [:]
    }

    private mutating func requestPull(by id: MemberID) {
        guard members[id.index].isData, case .slave(let master, let epoch) = members[id.index].machine.role else {
            return
        }
        sendData(.pullRequest(epoch: epoch, last: members[id.index].log.last), from: id, to: master)
    }

    private mutating func dataReceived(_ message: DataMessage, from peer: MemberID, by id: MemberID)
        throws(SimulationFailure)
    {
        switch message {
        case .pullRequest(let epoch, let last):
            // Only the master of the slave's epoch answers; anyone else stays silent and the slave retries.
            guard members[id.index].machine.role == .master(epoch: epoch) else { return }
            let log = members[id.index].log
            let verdict = last.map {
                BranchDetector.compare(
                    slaveLast: $0, masterLastCommitted: log.lastCommitted,
                    masterAtSameTx: log.retainedStamp(at: $0.tx.lastCommittedTx)
                )
            } ?? .outOfDate
            if verdict == .sameHistory, let last {
                let stamps = log.stamps(after: last.tx.lastCommittedTx, limit: options.pullBatchSize)
                sendData(.transactions(epoch: epoch, base: last, stamps: stamps, isPush: false), from: id, to: peer)
            } else {
                sendData(.storeCopy(epoch: epoch, source: log, verdict: verdict), from: id, to: peer)
            }
        case .transactions(let epoch, let base, let stamps, let isPush):
            let term = MasterTerm(master: peer, epoch: epoch)
            let following = members[id.index].isData
                && members[id.index].machine.role == .slave(master: peer, epoch: epoch)
            // Pushes are taken only after the branch check passed in this master's term; a pull answer is itself
            // the result of that check.
            var applied = false
            if following, isPush ? members[id.index].synced == term : true {
                applied = try apply(stamps, after: base, from: term, to: id)
            }
            if isPush {
                record("\(id) \(applied ? "applied" : "refused") push of \(describe(stamps.last)) from \(peer)")
                sendData(.pushAck(epoch: epoch, tx: stamps.last!.tx, applied: applied), from: id, to: peer)
            } else if applied {
                if members[id.index].synced != term { record("\(id) in sync with \(peer) in \(epoch)") }
                members[id.index].synced = term
                if stamps.count == options.pullBatchSize { requestPull(by: id) }
            }
        case .pushAck(let epoch, let tx, let applied):
            guard members[id.index].replicationEpoch == epoch, var replication = members[id.index].replication else {
                return
            }
            let actions = applied ? replication.pushAcknowledged(tx, by: peer) : replication.pushFailed(tx, to: peer)
            members[id.index].replication = replication
            try performReplication(actions, by: id, epoch: epoch)
        case .storeCopy(let epoch, let source, let verdict):
            let term = MasterTerm(master: peer, epoch: epoch)
            // Once in sync with this master, only a copy that moves the log forward is taken (a slave that fell
            // behind the master's log retention); an older copy (a late or duplicated answer) would roll it back.
            guard members[id.index].isData, members[id.index].machine.role == .slave(master: peer, epoch: epoch),
                members[id.index].synced != term || source.lastCommitted > members[id.index].log.lastCommitted
            else { return }
            try checkFencing(of: id, sourceEpoch: epoch)
            let tail = members[id.index].log.divergentTail(against: source)
            if !tail.isEmpty { branchedStores.append(tail) }
            if case .branched = verdict { branchCount += 1 }
            storeCopyCount += 1
            record(
                "\(id) store copy from \(peer) (\(verdict)): \(describe(members[id.index].log.last)) → "
                    + "\(describe(source.last)), \(tail.count) tx kept as branch"
            )
            members[id.index].log.copyStore(from: source)
            for tx in UInt64(1)...max(1, UInt64(source.count)) {
                if let stamp = source.stamp(at: tx), stamp.master != id { replicatedChecksums.insert(stamp.checksum) }
            }
            replicationChanged = true
            members[id.index].machine.logPositionChanged(to: electionPosition(of: members[id.index].log))
            members[id.index].synced = term
            try settleAwaitingCommits(of: id)
        case .forward(let epoch, let payload):
            // The master commits a slave's write only while it accepts writes in the epoch the slave follows.
            guard members[id.index].machine.role == .master(epoch: epoch),
                members[id.index].machine.isAcceptingWrites(now: now)
            else { return }
            try commitWrite(on: id, payload: payload, author: peer)
        case .forwardCommitted(let epoch, let stamp):
            guard members[id.index].isData, members[id.index].machine.role == .slave(master: peer, epoch: epoch)
            else {
                failedWrites += 1
                return
            }
            guard !members[id.index].awaitingCommits.contains(stamp), !acknowledgedChecksums.contains(stamp.checksum)
            else { return }
            members[id.index].awaitingCommits.append(stamp)
            try settleAwaitingCommits(of: id)
            if !members[id.index].awaitingCommits.isEmpty { requestPull(by: id) }
        }
    }

    /// A slave with a client write to send on: one that follows a master and passed the branch check with it.
    private mutating func forwardingSlave() -> MemberID? {
        let candidates = ids.filter { id in
            let member = members[id.index]
            guard member.isUp, !member.isPaused, member.isData,
                case .slave(let master, let epoch) = member.machine.role
            else { return false }
            return member.synced == MasterTerm(master: master, epoch: epoch)
        }
        return candidates.isEmpty ? nil : pick(candidates)
    }

    private mutating func forwardWrite(from id: MemberID) {
        guard case .slave(let master, let epoch) = members[id.index].machine.role else { return }
        nextPayload += 1
        forwardedWrites += 1
        sendData(.forward(epoch: epoch, payload: nextPayload), from: id, to: master)
    }

    /// Forwarded writes the slave now holds are acknowledged to its client; one its log has a different
    /// transaction for is reported failed.
    private mutating func settleAwaitingCommits(of id: MemberID) throws(SimulationFailure) {
        guard !members[id.index].awaitingCommits.isEmpty else { return }
        var still: [TransactionStamp] = []
        for stamp in members[id.index].awaitingCommits {
            if members[id.index].log.contains(stamp) {
                acknowledged.append(stamp)
                acknowledgedChecksums.insert(stamp.checksum)
                record("\(id) acknowledges forwarded \(describe(stamp))")
            } else if members[id.index].log.lastCommitted >= stamp.tx {
                failedWrites += 1
            } else {
                still.append(stamp)
            }
        }
        members[id.index].awaitingCommits = still
    }

    /// The slave left the master term it forwarded in (or crashed): its waiting clients get an error.
    private mutating func failAwaitingCommits(of id: MemberID) {
        failedWrites += members[id.index].awaitingCommits.count
        members[id.index].awaitingCommits = []
    }

    /// Appends the part of `stamps` (consecutive transactions following `base`) that extends `id`'s log. Returns
    /// whether the log now holds the batch: false on a gap or when the log has a different transaction at the overlap.
    private mutating func apply(_ stamps: [TransactionStamp], after base: TransactionStamp?, from term: MasterTerm,
                                to id: MemberID) throws(SimulationFailure) -> Bool
    {
        // Decided before appending: a live copy of the log would make every append copy the array.
        let last: UInt64
        do {
            let log = members[id.index].log
            last = log.lastCommitted.lastCommittedTx
            let baseTx = base?.tx.lastCommittedTx ?? 0
            guard last >= baseTx else { return false }
            if last == baseTx {
                guard log.last == base else { return false }
            } else if last - baseTx > UInt64(stamps.count) {
                // Already beyond the batch: fine if the log holds its end.
                return stamps.last.map(log.contains) ?? false
            } else {
                guard stamps[Int(last - baseTx) - 1] == log.last else { return false }
            }
        }
        let baseTx = base?.tx.lastCommittedTx ?? 0
        let fresh = stamps.dropFirst(Int(last - baseTx))
        guard !fresh.isEmpty else { return true }
        try checkFencing(of: id, sourceEpoch: term.epoch)
        for stamp in fresh {
            if let previous = members[id.index].log.last, stamp.epoch < previous.epoch {
                throw failure("\(id) would apply \(describe(stamp)) after \(describe(previous)): epochs go back")
            }
            if stamp.epoch > term.epoch {
                throw failure("\(term.master) of \(term.epoch) sent \(describe(stamp)) from a later epoch")
            }
            members[id.index].log.append(stamp)
            replicatedChecksums.insert(stamp.checksum)
        }
        replicationChanged = true
        members[id.index].machine.logPositionChanged(to: electionPosition(of: members[id.index].log))
        try settleAwaitingCommits(of: id)
        return true
    }

    private mutating func send(_ message: ClusterMessage, from: MemberID, to: MemberID) {
        transmit(from: from, to: to) { .deliver(from: from, to: to, message) }
    }

    private mutating func sendData(_ message: DataMessage, from: MemberID, to: MemberID) {
        transmit(from: from, to: to) { .deliverData(from: from, to: to, message) }
    }

    /// The network: blocked links, drops, duplicates and delays apply to election and replication traffic alike.
    private mutating func transmit(from: MemberID, to: MemberID, _ delivery: () -> EventKind) {
        guard !blocked.contains(Link(from: from, to: to)) else { return }
        if Int(random.next() % 100) < dropPercent { return }
        let copies = Int(random.next() % 100) < duplicatePercent ? 2 : 1
        for _ in 0..<copies {
            // Independent random delays also reorder messages on one link.
            schedule(delivery(), after: .microseconds(100) + randomDuration(upTo: maxDelay))
        }
    }

    // MARK: - Faults

    private mutating func injectFault() throws(SimulationFailure) {
        faultCount += 1
        let upIDs = ids.filter { members[$0.index].isUp }
        switch random.next() % 10 {
        case 0:
            // Random halves.
            blocked = []
            let side = Set(ids.filter { _ in random.next() % 2 == 0 })
            for a in ids {
                for b in ids where side.contains(a) != side.contains(b) { blocked.insert(Link(from: a, to: b)) }
            }
            record("fault: partition \(side.sorted()) | rest")
        case 1:
            // Isolate whoever acts as master (or a random member).
            let target = ids.first { members[$0.index].machine.isAcceptingWrites(now: now) } ?? pick(ids)
            blocked = []
            for other in ids where other != target {
                blocked.insert(Link(from: target, to: other))
                blocked.insert(Link(from: other, to: target))
            }
            record("fault: isolate \(target)")
        case 2:
            let a = pick(ids)
            let b = pick(ids.filter { $0 != a })
            blocked.insert(Link(from: a, to: b))
            record("fault: one-way \(a) → \(b) blocked")
        case 3:
            blocked = []
            record("fault: partitions healed")
        case 4:
            if upIDs.count > 1 {
                let victim = pick(upIDs)
                members[victim.index].isUp = false
                members[victim.index].isPaused = false
                members[victim.index].deferred = []
                members[victim.index].synced = nil
                dropReplication(of: victim)
                failAwaitingCommits(of: victim)
                replicationChanged = true
                record("fault: crash \(victim)")
            }
        case 5:
            if let victim = ids.first(where: { !members[$0.index].isUp }) { try restart(victim) }
        case 6:
            let victim = pick(upIDs)
            members[victim.index].isPaused = true
            record("fault: pause \(victim)")
        case 7:
            if let victim = ids.first(where: { members[$0.index].isPaused }) { resume(victim) }
        case 8:
            dropPercent = Int(random.next() % 30)
            duplicatePercent = Int(random.next() % 20)
            record("fault: drop \(dropPercent)% duplicate \(duplicatePercent)%")
        default:
            maxDelay = .milliseconds(Int64(1 + random.next() % 1_500))
            record("fault: max delay \(maxDelay)")
        }
    }

    private mutating func heal() throws(SimulationFailure) {
        healed = true
        healedAt = now
        blocked = []
        dropPercent = 0
        duplicatePercent = 0
        maxDelay = .milliseconds(20)
        record("heal")
        for id in ids {
            if !members[id.index].isUp { try restart(id) } else if members[id.index].isPaused { resume(id) }
        }
    }

    private mutating func restart(_ id: MemberID) throws(SimulationFailure) {
        var member = members[id.index]
        member.incarnation += 1
        member.isUp = true
        member.isPaused = false
        member.machine = MasterElection(
            configuration: configuration, me: id, persistent: member.persisted,
            lastCommitted: electionPosition(of: member.log), now: now, seed: random.next()
        )
        members[id.index] = member
        record("fault: restart \(id) at \(describe(member.log.last))")
        let actions = members[id.index].machine.start(now: now)
        try perform(actions, by: id)
        if member.isData { schedule(.pullTimer(id, incarnation: member.incarnation), after: pullInterval) }
    }

    private mutating func resume(_ id: MemberID) {
        members[id.index].isPaused = false
        let deferred = members[id.index].deferred
        members[id.index].deferred = []
        for event in deferred {
            schedule(event.kind, after: .zero)
        }
        record("fault: resume \(id)")
    }

    // MARK: - Invariants

    /// Safety: whoever accepts writes does so with a majority bound to it in its epoch, so two members can never
    /// accept writes at once.
    private func checkSafety() throws(SimulationFailure) {
        var writer: MemberID?
        for id in ids where members[id.index].isUp && members[id.index].machine.isAcceptingWrites(now: now) {
            if let writer { throw failure("\(writer) and \(id) both accept writes") }
            writer = id
            guard case .master(let epoch) = members[id.index].machine.role else {
                throw failure("\(id) accepts writes in role \(members[id.index].machine.role)")
            }
            // Crashed members are judged by their last state: they restart quiet and cannot vote for a while.
            let acknowledging = ids.count { members[$0.index].machine.acknowledges(master: id, epoch: epoch, now: now) }
            if acknowledging < configuration.quorum {
                throw failure("\(id) accepts writes in \(epoch) but only \(acknowledging) members acknowledge it")
            }
        }
    }

    /// Strict push, enough slaves: a new master must hold every write acknowledged so far, with the same checksum.
    /// Otherwise the losses are only counted (the final count is what `lostAcknowledgedWrites` reports).
    private func checkAcknowledgedWrites(newMaster id: MemberID, epoch: Epoch) throws(SimulationFailure) {
        guard guaranteesAcknowledgedWrites else { return }
        let log = members[id.index].log
        if let missing = acknowledged.first(where: { !log.contains($0) }) {
            throw failure(
                "\(id) became master of \(epoch) without acknowledged \(describe(missing)) (strict push, factor "
                    + "\(pushFactor)); its log has \(describe(log.stamp(at: missing.tx.lastCommittedTx))) there"
            )
        }
    }

    /// A slave applies data only from the master of an epoch it has not moved past (the data port's fencing).
    private func checkFencing(of id: MemberID, sourceEpoch: Epoch) throws(SimulationFailure) {
        let seen = members[id.index].machine.persistent.currentEpoch
        if sourceEpoch < seen {
            throw failure("\(id) applies data from \(sourceEpoch) after seeing \(seen)")
        }
    }

    /// After every event: a slave that passed the branch check with a master that still leads holds a prefix of that
    /// master's log (same history up to its length).
    private func checkReplication() throws(SimulationFailure) {
        for id in ids where members[id.index].isUp {
            guard let term = members[id.index].synced else { continue }
            let master = members[term.master.index]
            guard master.isUp, master.machine.role == .master(epoch: term.epoch) else { continue }
            if !members[id.index].log.isPrefix(of: master.log) {
                throw failure(
                    "\(id) is in sync with \(term.master) in \(term.epoch) but its last "
                        + "\(describe(members[id.index].log.last)) is not in the master's log "
                        + "(\(describe(master.log.last)))"
                )
            }
        }
    }

    /// At the end: every acknowledged write the final history lacks must have been kept in a branched store
    /// (docs/clustering-design.md: "what optimistic push can lose" is recoverable from `branched/`). Returns the
    /// number lost, and how many of those no other member ever held.
    private func checkFinalLog() throws(SimulationFailure) -> (lost: Int, neverReplicated: Int) {
        guard let master = ids.first(where: { members[$0.index].machine.isAcceptingWrites(now: now) }) else {
            return (0, 0)
        }
        let log = members[master.index].log
        var lost = 0
        var neverReplicated = 0
        for stamp in acknowledged where !log.contains(stamp) {
            if !replicatedChecksums.contains(stamp.checksum) { neverReplicated += 1 }
            if guaranteesAcknowledgedWrites {
                throw failure("acknowledged \(describe(stamp)) is missing from the final master \(master)'s log")
            }
            lost += 1
            let tx = stamp.tx.lastCommittedTx
            let kept = branchedStores.contains { tail in
                guard let first = tail.first?.tx.lastCommittedTx, tx >= first, tx - first < UInt64(tail.count)
                else { return false }
                return tail[Int(tx - first)] == stamp
            }
            if !kept {
                throw failure("acknowledged \(describe(stamp)) was lost and is in no branched store")
            }
        }
        return (lost, neverReplicated)
    }

    /// Every data member holds exactly the master's log.
    private func logsConverged() -> Bool {
        guard let master = ids.first(where: { members[$0.index].machine.isAcceptingWrites(now: now) }) else {
            return false
        }
        let last = members[master.index].log.last
        return ids.allSatisfy { !members[$0.index].isData || members[$0.index].log.last == last }
    }

    /// Liveness target: one member accepts writes and every other member follows it in its epoch.
    private func isConverged() -> Bool {
        guard let master = ids.first(where: { members[$0.index].machine.isAcceptingWrites(now: now) }),
            case .master(let epoch) = members[master.index].machine.role
        else { return false }
        return ids.allSatisfy { $0 == master || members[$0.index].machine.role == .slave(master: master, epoch: epoch) }
    }

    private func roles() -> String {
        ids.map { "\($0): \(members[$0.index].machine.role) \(describe(members[$0.index].log.last))" }
            .joined(separator: ", ")
    }

    private func electionPosition(of log: SimulatedLog) -> LogPosition {
        Self.electionPosition(of: log, ranking: options.electionRanking)
    }

    /// The position a member reports to its `MasterElection`. With `.lastEpochThenTx` it packs the last
    /// transaction's epoch above its tx id, so the core's plain comparison of positions orders by (epoch, tx).
    private static func electionPosition(of log: SimulatedLog, ranking: ElectionRanking) -> LogPosition {
        let tx = log.lastCommitted.lastCommittedTx
        switch ranking {
        case .lastCommittedTx: return log.lastCommitted
        case .lastEpochThenTx:
            precondition(tx < 1 << 40, "tx id \(tx) does not fit the simulated election rank")
            return LogPosition(lastCommittedTx: (log.last?.epoch.rawValue ?? 0) << 40 | tx)
        }
    }

    private func describe(_ stamp: TransactionStamp?) -> String {
        guard let stamp else { return "empty log" }
        return "tx \(stamp.tx.lastCommittedTx)/e\(stamp.epoch.rawValue)/m\(stamp.master.rawValue)/"
            + String(stamp.checksum & 0xFFFF, radix: 16)
    }

    // MARK: - Plumbing

    private mutating func schedule(_ kind: EventKind, after delay: Duration) {
        sequence += 1
        push(Event(time: now + delay, sequence: sequence, kind: kind))
    }

    private mutating func pick(_ choices: [MemberID]) -> MemberID {
        choices[Int(random.next() % UInt64(choices.count))]
    }

    private mutating func randomDuration(upTo bound: Duration) -> Duration {
        let nanos = UInt64(max(1, bound / .nanoseconds(1)))
        return .nanoseconds(Int64(random.next() % nanos))
    }

    private mutating func record(_ line: String) {
        appendTrace(TraceLine(time: now, entry: .text(line)))
    }

    /// Election messages are the bulk of the trace: kept unformatted, formatted only when a run fails.
    private mutating func recordDelivery(from: MemberID, to: MemberID, _ message: ClusterMessage) {
        appendTrace(TraceLine(time: now, entry: .delivery(from: from, to: to, message)))
    }

    private mutating func appendTrace(_ line: TraceLine) {
        trace.append(line)
        if trace.count > 400 { trace.removeFirst(200) }
    }

    private func failure(_ message: String) -> SimulationFailure {
        SimulationFailure(seed: seed, time: now, message: message, trace: trace.map(\.formatted))
    }

    // A binary min-heap on (time, sequence); no dependencies allowed in this target.
    private mutating func push(_ event: Event) {
        queue.append(event)
        var child = queue.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard queue[child].precedes(queue[parent]) else { break }
            queue.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popEvent() -> Event? {
        guard !queue.isEmpty else { return nil }
        queue.swapAt(0, queue.count - 1)
        let top = queue.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < queue.count, queue[left].precedes(queue[smallest]) { smallest = left }
            if right < queue.count, queue[right].precedes(queue[smallest]) { smallest = right }
            if smallest == parent { break }
            queue.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

extension MemberID {
    /// Position in the simulation's member array.
    fileprivate var index: Int { rawValue - 1 }
}

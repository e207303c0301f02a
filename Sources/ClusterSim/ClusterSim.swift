// ClusterSim: deterministic simulation of a Trellis HA cluster (test support).
//
// N `MasterElection` machines run on one thread against a simulated network and clock. Events sit in a queue
// ordered by (simulated time, sequence number) and every random choice comes from one seeded generator, so a seed
// replays a run exactly. Shape after TigerBeetle's VOPR and FoundationDB's simulation (STYLE.md, "Deterministic
// cluster simulation"): a safety phase with faults, then a liveness phase with every fault healed.

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

    /// Default options.
    public init() {}
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
    /// Members whose log was ahead of the master they joined (their tail would be kept as a branch).
    public let branchesDetected: Int
    /// Simulated time from healing to the cluster agreeing on one master.
    public let timeToConverge: Duration
}

/// One deterministic simulated cluster run.
public struct ClusterSimulation {
    private enum EventKind {
        case tick(MemberID, incarnation: Int)
        case deliver(from: MemberID, to: MemberID, ClusterMessage)
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

    private struct Member {
        var machine: MasterElection
        var isUp = true
        var isPaused = false
        var incarnation = 0
        var persisted = PersistentElectionState()
        var lastCommitted: LogPosition
        var deferred: [Event] = []
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
    private var members: [MemberID: Member] = [:]
    private let ids: [MemberID]
    private var blocked: Set<Link> = []
    private var dropPercent = 0
    private var duplicatePercent = 0
    private var maxDelay: Duration = .milliseconds(20)
    private var healed = false
    private var healedAt: Duration = .zero
    private var convergedAt: Duration?
    private var mastersByEpoch: [Epoch: MemberID] = [:]
    private var trace: [String] = []
    private var eventCount = 0
    private var faultCount = 0
    private var commitCount = 0
    private var branchCount = 0

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
        for member in configuration.members {
            let position = LogPosition(lastCommittedTx: member.kind == .arbiter ? 0 : 1 + random.next() % 3)
            let machine = MasterElection(
                configuration: configuration, me: member.id, lastCommitted: position, now: .zero,
                seed: random.next()
            )
            members[member.id] = Member(machine: machine, lastCommitted: position)
        }
        self.random = random
    }

    /// Runs the safety phase and the liveness phase; throws the first invariant violation.
    public mutating func run() throws(SimulationFailure) -> SimulationReport {
        for id in ids {
            try perform(members[id]!.machine.start(now: now), by: id)
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
            if healed, convergedAt == nil, isConverged() {
                convergedAt = now
                break
            }
        }
        guard let convergedAt else {
            throw failure("no single master within \(options.livenessBound) after healing; roles: \(roles())")
        }
        return SimulationReport(
            seed: seed, memberCount: ids.count, events: eventCount, elections: mastersByEpoch.count,
            faults: faultCount, commits: commitCount, branchesDetected: branchCount,
            timeToConverge: convergedAt - healedAt
        )
    }

    // MARK: - Events

    private mutating func handle(_ event: Event) throws(SimulationFailure) {
        switch event.kind {
        case .tick(let id, let incarnation):
            guard members[id]!.isUp, members[id]!.incarnation == incarnation else { return }
            if members[id]!.isPaused {
                members[id]!.deferred.append(event)
                return
            }
            try perform(members[id]!.machine.tick(now: now), by: id)
        case .deliver(let from, let to, let message):
            guard members[to]!.isUp else { return }
            if members[to]!.isPaused {
                members[to]!.deferred.append(event)
                return
            }
            record("\(from) → \(to): \(message)")
            try perform(members[to]!.machine.messageReceived(message, from: from, now: now), by: to)
            catchUp(member: to, after: message, from: from)
        case .commit:
            for id in ids where members[id]!.isUp && !members[id]!.isPaused
                && members[id]!.machine.isAcceptingWrites(now: now)
            {
                let next = LogPosition(lastCommittedTx: members[id]!.lastCommitted.lastCommittedTx + 1)
                members[id]!.lastCommitted = next
                members[id]!.machine.logPositionChanged(to: next)
                commitCount += 1
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

    /// Idealised pull: a slave that hears its master's heartbeat catches up to the master's log. A slave that is
    /// ahead has diverged (it committed under an old master what the new one never saw): it is counted as a branch
    /// and replaced by the master's store, as a store copy would.
    private mutating func catchUp(member id: MemberID, after message: ClusterMessage, from master: MemberID) {
        guard case .heartbeat(let heartbeat) = message, heartbeat.isMaster,
            members[id]!.machine.role == .slave(master: master, epoch: heartbeat.epoch),
            configuration.member(id)!.kind != .arbiter,
            members[id]!.lastCommitted != heartbeat.lastCommitted
        else { return }
        if members[id]!.lastCommitted > heartbeat.lastCommitted {
            branchCount += 1
            record("\(id) branched at \(members[id]!.lastCommitted), master \(master) at \(heartbeat.lastCommitted)")
        }
        members[id]!.lastCommitted = heartbeat.lastCommitted
        members[id]!.machine.logPositionChanged(to: heartbeat.lastCommitted)
    }

    private mutating func perform(_ actions: [MasterElection.Action], by id: MemberID) throws(SimulationFailure) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                send(message, from: id, to: to)
            case .persist(let state):
                let old = members[id]!.persisted
                if state.currentEpoch < old.currentEpoch {
                    throw failure("\(id) persisted \(state.currentEpoch) after \(old.currentEpoch)")
                }
                if state.currentEpoch == old.currentEpoch, let voted = old.votedFor, state.votedFor != voted {
                    throw failure("\(id) changed its vote in \(state.currentEpoch) from \(voted) to \(state)")
                }
                members[id]!.persisted = state
            case .becomeMaster(let epoch):
                record("\(id) becomes master of \(epoch)")
                if let existing = mastersByEpoch[epoch], existing != id {
                    throw failure("two masters in \(epoch): \(existing) and \(id)")
                }
                if configuration.member(id)?.isElectable != true {
                    throw failure("\(id) (\(configuration.member(id)!.kind)) became master")
                }
                mastersByEpoch[epoch] = id
            case .becomeSlave(let master, let epoch):
                record("\(id) follows \(master) in \(epoch)")
            case .becomePending:
                record("\(id) pending")
            case .stopAcceptingWrites:
                record("\(id) stops accepting writes")
            case .scheduleTimer(let after):
                schedule(.tick(id, incarnation: members[id]!.incarnation), after: after)
            }
        }
    }

    private mutating func send(_ message: ClusterMessage, from: MemberID, to: MemberID) {
        guard !blocked.contains(Link(from: from, to: to)) else { return }
        if Int(random.next() % 100) < dropPercent { return }
        let copies = Int(random.next() % 100) < duplicatePercent ? 2 : 1
        for _ in 0..<copies {
            // Independent random delays also reorder messages on one link.
            schedule(.deliver(from: from, to: to, message), after: .microseconds(100) + randomDuration(upTo: maxDelay))
        }
    }

    // MARK: - Faults

    private mutating func injectFault() throws(SimulationFailure) {
        faultCount += 1
        let upIDs = ids.filter { members[$0]!.isUp }
        switch random.next() % 10 {
        case 0:
            // Random halves.
            blocked = []
            let side = Set(ids.filter { _ in random.next() % 2 == 0 })
            for a in ids { for b in ids where side.contains(a) != side.contains(b) { blocked.insert(Link(from: a, to: b)) } }
            record("fault: partition \(side.sorted()) | rest")
        case 1:
            // Isolate whoever acts as master (or a random member).
            let target = ids.first { members[$0]!.machine.isAcceptingWrites(now: now) } ?? pick(ids)
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
                members[victim]!.isUp = false
                members[victim]!.isPaused = false
                members[victim]!.deferred = []
                record("fault: crash \(victim)")
            }
        case 5:
            if let victim = ids.first(where: { !members[$0]!.isUp }) { try restart(victim) }
        case 6:
            let victim = pick(upIDs)
            members[victim]!.isPaused = true
            record("fault: pause \(victim)")
        case 7:
            if let victim = ids.first(where: { members[$0]!.isPaused }) { resume(victim) }
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
            if !members[id]!.isUp { try restart(id) } else if members[id]!.isPaused { resume(id) }
        }
    }

    private mutating func restart(_ id: MemberID) throws(SimulationFailure) {
        var member = members[id]!
        member.incarnation += 1
        member.isUp = true
        member.isPaused = false
        member.machine = MasterElection(
            configuration: configuration, me: id, persistent: member.persisted, lastCommitted: member.lastCommitted,
            now: now, seed: random.next()
        )
        members[id] = member
        record("fault: restart \(id)")
        let actions = members[id]!.machine.start(now: now)
        try perform(actions, by: id)
    }

    private mutating func resume(_ id: MemberID) {
        members[id]!.isPaused = false
        let deferred = members[id]!.deferred
        members[id]!.deferred = []
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
        for id in ids where members[id]!.isUp && members[id]!.machine.isAcceptingWrites(now: now) {
            if let writer { throw failure("\(writer) and \(id) both accept writes") }
            writer = id
            guard case .master(let epoch) = members[id]!.machine.role else {
                throw failure("\(id) accepts writes in role \(members[id]!.machine.role)")
            }
            // Crashed members are judged by their last state: they restart quiet and cannot vote for a while.
            let acknowledging = ids.count { members[$0]!.machine.acknowledges(master: id, epoch: epoch, now: now) }
            if acknowledging < configuration.quorum {
                throw failure("\(id) accepts writes in \(epoch) but only \(acknowledging) members acknowledge it")
            }
        }
    }

    /// Liveness target: one member accepts writes and every other member follows it in its epoch.
    private func isConverged() -> Bool {
        guard let master = ids.first(where: { members[$0]!.machine.isAcceptingWrites(now: now) }),
            case .master(let epoch) = members[master]!.machine.role
        else { return false }
        return ids.allSatisfy { $0 == master || members[$0]!.machine.role == .slave(master: master, epoch: epoch) }
    }

    private func roles() -> String {
        ids.map { "\($0): \(members[$0]!.machine.role) \(members[$0]!.lastCommitted)" }.joined(separator: ", ")
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
        trace.append("\(now) \(line)")
        if trace.count > 400 { trace.removeFirst(200) }
    }

    private func failure(_ message: String) -> SimulationFailure {
        SimulationFailure(seed: seed, time: now, message: message, trace: trace)
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

import ClusterCore
import Dispatch
import Foundation
import GraphKernel
import GraphValues
import HTTPAPI
import Logging
import Synchronization
import TrellisService

/// One HA data member (`dbms.mode=HA`): takes part in coordination, serves the data port, and switches the local
/// database between the roles the cluster decides (neo4j-ha.md §1, §5, §6):
///
/// - **master**: commits stamped with this member's id and epoch; the kernel commit gate lets writes through only
///   while the coordination layer says this member holds its master lease; each commit is pushed to
///   `ha.tx_push_factor` slaves in `ha.tx_push_strategy` order before the client hears back (a shortfall is
///   logged, or with `ha.tx_push_strict` fails the commit); transactions forwarded by slaves run here.
/// - **slave**: local writes are refused by the gate; the store is checked against the master's (same last
///   transaction stamp), moved to `branched/` and replaced by a copy of the master's when it diverged or is too
///   far behind, then caught up by pulling; afterwards pulled every `ha.pull_interval`. WRITE-mode transactions are
///   forwarded to the master (`HAGraphEngine`).
/// - **pending**: no master known or quorum lost: reads go on, writes fail with DatabaseUnavailable (transient).
///
/// Role switches run one at a time on `switchQueue`; a newer role decision makes an unfinished switch give up at
/// its next step (`generation`).
public final class HAInstance: @unchecked Sendable {
    public let configuration: HAConfiguration
    let config: Config
    let service: TrellisDatabaseService
    let engine: HAGraphEngine
    let transport: HATransport
    /// trellis.log: every role change and replication step, in the words Neo4j operators grep for.
    let log: Logger
    let debug: Logger
    let openDatabase: @Sendable (Config) throws -> GraphDatabase
    public let forwarded: ForwardedTransactions
    private(set) var boltAddress: String?
    private(set) var httpAddress: String?

    enum Role: Sendable {
        case pending
        case master(epoch: Epoch)
        /// `available` once caught up with the master.
        case slave(master: MemberID, epoch: Epoch, link: any HADataLink, available: Bool)
    }

    struct State: Sendable {
        var role: Role = .pending
        var generation = 0
        var replication: ReplicationStateMachine
        var slaveLinks: [MemberID: (address: String, link: any HADataLink)] = [:]
        var lastUpdate: Date?
        var pullCount = 0
        var lastPulledTx: UInt64 = 0
        var stopped = false
        /// Shortfall warnings are rate-limited (Neo4j does too): a master whose slave is down would log every
        /// commit otherwise.
        /// The local store is known to be the cluster's data: since start this member was master, or joined a
        /// master whose store id and history it shares (or copied its store). Until then, and while the store is
        /// replaced by a copy, local transactions are refused: a member carrying another cluster's store or a
        /// branched one never serves that as the cluster's data.
        var storeVerified = false
        /// The master and epoch the store was last verified against (this member's own id and epoch while it was
        /// master). A slave event naming another master or epoch clears `storeVerified` at once: until the branch
        /// check against that master passes, the store may hold transactions the new master does not have (this
        /// member was master in a partition, or followed a master whose last commits were lost), and serving reads
        /// from it would show clients data the cluster has discarded. Neo4j 3.x slaves are likewise unavailable
        /// while they switch to a new master.
        var verifiedAgainst: (master: MemberID, epoch: Epoch)?
        /// The master the store is being verified against (for the refusal message).
        var verifyingAgainst: MemberID?
        var lastShortfallLog: ContinuousClock.Instant?
        var shortfallsNotLogged = 0
    }

    let state: Mutex<State>
    private let logHeadCache = Mutex<(store: ObjectIdentifier, tx: Int64, epoch: Epoch)?>(nil)
    /// Serialises pulls and applies on this member (timer, forwarded-commit catch-up, switch catch-up).
    let pullLock = NSLock()
    let switchQueue = DispatchQueue(label: "trellis.ha.switch")
    private var coordinator: (any HACoordinator)?
    private let dataService = Mutex<(any HADataService)?>(nil)
    private var dataPort = 0
    private var pullTimer: DispatchSourceTimer?
    private var roleFileTimer: DispatchSourceTimer?

    public init(
        configuration: HAConfiguration, config: Config, service: TrellisDatabaseService, engine: HAGraphEngine,
        transport: HATransport, log: Logger, debug: Logger,
        openDatabase: @escaping @Sendable (Config) throws -> GraphDatabase
    ) {
        self.configuration = configuration
        self.config = config
        self.service = service
        self.engine = engine
        self.transport = transport
        self.log = log
        self.debug = debug
        self.openDatabase = openDatabase
        self.forwarded = ForwardedTransactions(
            service: service, idleTimeout: configuration.forwardedIdleTimeout, logger: debug)
        self.state = Mutex(State(replication: Self.replicationMachine(configuration)))
    }

    static func replicationMachine(_ c: HAConfiguration) -> ReplicationStateMachine {
        ReplicationStateMachine(
            pushFactor: c.pushFactor, strategy: c.pushStrategy, acknowledgement: c.pushStrict ? .strict : .optimistic)
    }

    var me: MemberID { configuration.serverID }
    var database: GraphDatabase {
        // HA start-up only ever installs GraphDatabase stores (`ServerInstance.start` checks).
        guard let db = engine.local.database as? GraphDatabase else {
            preconditionFailure("HA needs the kernel's GraphDatabase, got \(type(of: engine.local.database))")
        }
        return db
    }

    /// The last committed tx and the epoch it was committed in, for election credentials. Heartbeats ask for it
    /// twice a second, so the epoch (read from the log) is cached per store and tx; a failed read (the store is
    /// being replaced) is not cached and reports epoch 0, which only ever under-ranks this member.
    func logHead() -> HALogHead {
        guard let db = engine.local.database as? GraphDatabase else { return HALogHead(tx: 0, epoch: .zero) }
        let tx = db.lastCommittedTxID
        let key = (ObjectIdentifier(db), tx.rawValue)
        if let cached = logHeadCache.withLock({ $0 }), cached.store == key.0, cached.tx == key.1 {
            return HALogHead(tx: UInt64(max(0, tx.rawValue)), epoch: cached.epoch)
        }
        guard let header = try? db.transactionHeader(at: tx) else {
            return HALogHead(tx: UInt64(max(0, tx.rawValue)), epoch: .zero)
        }
        let epoch = Epoch(UInt64(max(0, header.epoch)))
        logHeadCache.withLock { $0 = (key.0, key.1, epoch) }
        return HALogHead(tx: UInt64(max(0, tx.rawValue)), epoch: epoch)
    }

    // trellis.log lines are built from pieces; swift-log wants a message literal.
    func info(_ text: String) { log.info("\(text)") }
    func warn(_ text: String) { log.warning("\(text)") }
    func failure(_ text: String) { log.error("\(text)") }

    // MARK: - Start and stop

    /// Closes the commit gate (PENDING) before any client can connect.
    public func prepare() {
        installGate(on: database)
    }

    /// Binds the data port and joins the cluster, advertising the given client addresses. The member starts
    /// PENDING: reads are served, writes fail until a master is elected.
    public func start(boltAddress: String?, httpAddress: String?) throws {
        self.boltAddress = boltAddress
        self.httpAddress = httpAddress
        installGate(on: database)
        let dataPort = try bindDataService(database: database)
        self.dataPort = dataPort
        let settingsDataAddress = configuration.advertisedData(boundPort: dataPort)
        let coordinator: any HACoordinator
        do {
            coordinator = try bindCoordinator(dataAddress: settingsDataAddress)
        } catch {
            // Start-up fails as a whole: nothing of this member may stay listening.
            if let server = dataService.withLock({ $0 }) { blocking { await server.stop() } }
            throw error
        }
        self.coordinator = coordinator
        coordinator.onRoleChange { [weak self] event in self?.roleDecided(event) }
        engine.setForwarding(self)
        startPullTimer()
        startRoleFile()
        info(
            "Instance \(me.rawValue) (this server) listening for the cluster on "
                + "\(configuration.advertisedCoordination(boundPort: coordinator.boundPort)), "
                + "data port \(settingsDataAddress)")
    }

    /// The coordination port actually bound (tests use ephemeral ports).
    public var coordinationPort: Int { coordinator?.boundPort ?? 0 }
    /// The data port actually bound.
    public var boundDataPort: Int { dataPort }

    private func bindDataService(database: GraphDatabase) throws -> Int {
        var lastError: (any Error)?
        for port in configuration.dataPorts {
            let server = transport.makeDataService(database, forwarded)
            do {
                try blocking { try await server.start(host: self.configuration.dataHost, port: port) }
                dataService.withLock { $0 = server }
                return server.boundPort
            } catch {
                lastError = error
                blocking { await server.stop() }
            }
        }
        throw LifecycleError(
            "Cannot bind the HA data port ha.host.data=\(configuration.dataHost):\(configuration.dataPorts): "
                + "\(lastError.map { "\($0)" } ?? "no port in the range")")
    }

    private func bindCoordinator(dataAddress: String) throws -> any HACoordinator {
        var lastError: (any Error)?
        for port in configuration.coordinationPorts {
            let settings = HACoordinatorSettings(
                me: me, kind: configuration.kind, listenHost: configuration.coordinationHost, listenPort: port,
                initialHosts: configuration.initialHosts,
                coordinationAddress: configuration.advertisedCoordination(boundPort: port),
                dataAddress: dataAddress, boltAddress: boltAddress, httpAddress: httpAddress,
                heartbeatInterval: configuration.heartbeatInterval, heartbeatTimeout: configuration.heartbeatTimeout,
                electionTimeout: configuration.electionTimeout, allowInitCluster: configuration.allowInitCluster,
                joinTimeout: configuration.joinTimeout, stateDirectory: configuration.stateDirectory,
                clusterName: configuration.clusterName)
            let coordinator = transport.makeCoordinator(settings) { [weak self] in
                self?.logHead() ?? HALogHead(tx: 0, epoch: .zero)
            }
            do {
                try blocking { try await coordinator.start() }
                return coordinator
            } catch {
                lastError = error
                blocking { await coordinator.stop() }
            }
        }
        throw LifecycleError(
            "Cannot bind the HA coordination port ha.host.coordination=\(configuration.coordinationHost):"
                + "\(configuration.coordinationPorts): \(lastError.map { "\($0)" } ?? "no port in the range")")
    }

    /// Leaves the cluster and closes the data port (before the store is closed).
    public func stop() {
        let links: [any HADataLink] = state.withLock { s in
            s.stopped = true
            s.generation += 1
            var links = s.slaveLinks.values.map(\.link)
            if case .slave(_, _, let link, _) = s.role { links.append(link) }
            s.slaveLinks = [:]
            s.role = .pending
            return links
        }
        pullTimer?.cancel()
        pullTimer = nil
        roleFileTimer?.cancel()
        roleFileTimer = nil
        try? FileManager.default.removeItem(atPath: HARoleFile.path(config))
        engine.setForwarding(nil)
        if let coordinator { blocking { await coordinator.stop() } }
        forwarded.abortAll()
        if let server = dataService.withLock({ $0 }) { blocking { await server.stop() } }
        for link in links { blocking { await link.close() } }
        // The queue may still be in a switch; it gives up at its next step (generation moved on).
        switchQueue.sync {}
        transport.installKernelHooks(database, nil, nil)
    }

    // MARK: - Role switching

    func roleDecided(_ event: HARoleEvent) {
        let (generation, paused): (Int?, Bool) = state.withLock { s in
            guard !s.stopped else { return (nil, false) }
            s.generation += 1
            var paused = false
            if case .slave(let master, let epoch, _) = event {
                paused = Self.storeNeedsVerification(&s, master: master, epoch: epoch)
            }
            return (s.generation, paused)
        }
        guard let generation else { return }
        if paused, case .slave(let master, let epoch, _) = event {
            info(
                "Instance \(me.rawValue) (this server) learned of master instance \(master.rawValue) in epoch "
                    + "\(epoch.rawValue): no transactions are served here until this store is checked against that "
                    + "master's")
        }
        switchQueue.async { [self] in switchRole(event, generation: generation) }
    }

    /// Called when this member learns that `master` leads in `epoch`: unless the store was verified against
    /// exactly that master and epoch, local transactions are refused until `joinMaster` has checked it (or
    /// replaced it by a copy). A pending event changes nothing: with no master, a verified store keeps serving
    /// reads.
    /// Returns whether a store that was serving stops serving.
    @discardableResult
    static func storeNeedsVerification(_ s: inout State, master: MemberID, epoch: Epoch) -> Bool {
        if let verified = s.verifiedAgainst, verified.master == master, verified.epoch == epoch { return false }
        let wasServing = s.storeVerified
        s.storeVerified = false
        s.verifyingAgainst = master
        return wasServing
    }

    func isCurrent(_ generation: Int) -> Bool {
        state.withLock { !$0.stopped && $0.generation == generation }
    }

    func switchRole(_ event: HARoleEvent, generation: Int) {
        guard isCurrent(generation) else { return }
        switch event {
        case .pending:
            let wasMaster = leaveRole(next: .pending)
            if wasMaster { forwarded.abortAll() }
            info("Instance \(me.rawValue) (this server) is pending: no master. Write transactions to database "
                + "disabled; reads continue.")
        case .master(let epoch):
            _ = leaveRole(next: .pending)
            database.setCommitIdentity(serverID: Int32(me.rawValue), epoch: Int64(clamping: epoch.rawValue))
            dataService.withLock { $0 }?.setEpoch(epoch, isMaster: true)
            state.withLock { s in
                s.role = .master(epoch: epoch)
                s.replication = Self.replicationMachine(configuration)
                // Checked under the same lock as `roleDecided`'s clearing: a newer decision (another master) that
                // arrived meanwhile must not be overwritten by this superseded switch.
                if !s.stopped && s.generation == generation {
                    s.storeVerified = true
                    s.verifiedAgainst = (me, epoch)
                }
            }
            installGate(on: database)
            transport.installKernelHooks(database, gate(), { [weak self] tx in try self?.committedOnMaster(tx) })
            info(
                "Instance \(me.rawValue) (this server) is available as master at ha://"
                    + configuration.advertisedData(boundPort: dataPort)
                    + "?serverId=\(me.rawValue)"
                    + ". Database available for write transactions.")
        case .slave(let master, let epoch, let address):
            let wasMaster = leaveRole(next: .pending)
            if wasMaster { forwarded.abortAll() }
            guard let address else {
                warn("Master \(master.rawValue) has no data address; staying pending")
                return
            }
            dataService.withLock { $0 }?.setEpoch(epoch, isMaster: false)
            let link = transport.makeDataLink(address)
            state.withLock { $0.role = .slave(master: master, epoch: epoch, link: link, available: false) }
            info("ServerId \(me.rawValue), moving to slave for master ha://\(address)?serverId=\(master.rawValue)")
            var delay = Duration.seconds(1)
            while isCurrent(generation) {
                do {
                    try joinMaster(link, master: master, generation: generation)
                    break
                } catch {
                    guard isCurrent(generation) else { break }
                    failure(
                        "Could not switch to slave of instance \(master.rawValue): \(error). Retrying in \(delay).")
                    // Neo4j backs off 1, 3, 7, 15 s … up to 5 min; a shorter cap suits the few-second failover.
                    sleepUnlessSuperseded(delay, generation: generation)
                    delay = min(delay * 2, .seconds(30))
                }
            }
            guard isCurrent(generation) else { return }
            state.withLock { s in
                // Same lock as `roleDecided`: a new master announced after the `isCurrent` check above keeps the
                // store unverified instead of this finished (now superseded) join marking it verified.
                if !s.stopped, s.generation == generation, case .slave(let m, let e, let l, _) = s.role {
                    s.role = .slave(master: m, epoch: e, link: l, available: true)
                    s.storeVerified = true
                    s.verifiedAgainst = (m, e)
                }
            }
            info("Instance \(me.rawValue) (this server) is available as slave of instance \(master.rawValue)")
        }
    }

    /// Ends the current role: gate closed, pushes and pulls stopped. Returns whether it was master.
    private func leaveRole(next: Role) -> Bool {
        let (wasMaster, oldLinks): (Bool, [any HADataLink]) = state.withLock { s in
            var links = s.slaveLinks.values.map(\.link)
            s.slaveLinks = [:]
            var wasMaster = false
            switch s.role {
            case .master: wasMaster = true
            case .slave(_, _, let link, _): links.append(link)
            case .pending: break
            }
            s.role = next
            return (wasMaster, links)
        }
        transport.installKernelHooks(database, gate(), nil)
        if wasMaster { info("Write transactions to database disabled") }
        for link in oldLinks { Task { await link.close() } }
        return wasMaster
    }

    private func sleepUnlessSuperseded(_ delay: Duration, generation: Int) {
        let until = ContinuousClock.now + delay
        while ContinuousClock.now < until && isCurrent(generation) { usleep(50_000) }
    }

    // MARK: - Commit gate and push (master)

    /// The kernel commit gate: a local write commits only on a master holding its lease.
    func gate() -> @Sendable () throws -> Void {
        { [weak self] in
            guard let self else {
                throw DatabaseError(.databaseUnavailable, "The database is shutting down.")
            }
            try self.checkWritable()
        }
    }

    func checkWritable() throws {
        let role = state.withLock { $0.role }
        switch role {
        case .master:
            guard coordinator?.isAcceptingWrites() ?? false else {
                throw DatabaseError(
                    .databaseUnavailable,
                    "This instance is no longer sure to be master (it lost contact with a majority of the cluster); "
                        + "write transactions are refused until a master is elected. Retry.")
            }
        case .slave:
            throw DatabaseError(
                .databaseUnavailable,
                "This instance is a slave; write transactions run on the master (use a WRITE access mode session). "
                    + "Retry.")
        case .pending:
            throw DatabaseError(
                .databaseUnavailable,
                "No master is available in the cluster right now (election in progress or quorum lost); write "
                    + "transactions are refused, reads continue. Retry.")
        }
    }

    private func installGate(on database: GraphDatabase) {
        let role = state.withLock { $0.role }
        if case .master = role {
            transport.installKernelHooks(database, gate(), { [weak self] tx in try self?.committedOnMaster(tx) })
        } else {
            transport.installKernelHooks(database, gate(), nil)
        }
    }

    /// One commit's pushes: the shell side of `ReplicationStateMachine`.
    final class PushRound: @unchecked Sendable {
        let group = DispatchGroup()
        let lock = NSLock()
        var failed: (replicated: Int, required: Int)?
        var shortfall: (replicated: Int, desired: Int)?
    }

    /// The kernel commit hook on the master: push `tx` to the slaves the replication machine picks and wait for
    /// the outcome (bounded by `ha.slave_read_timeout`).
    func committedOnMaster(_ tx: CommittedTransaction) throws {
        guard case .master(let epoch) = state.withLock({ $0.role }), let coordinator else { return }
        // Strict pushes count only slaves that can become master: an acknowledged write must survive the loss of
        // this master, and a slave-only copy cannot carry it into the next epoch (elections ignore slave-only
        // logs; docs/clustering-design.md, "Two election rules strict push needs").
        let strict = configuration.pushStrict
        let slaves = coordinator.members.filter {
            $0.id != me && !$0.isArbiter && $0.alive && $0.role == "slave" && $0.data != nil
                && !(strict && $0.isSlaveOnly)
        }
        let addresses = Dictionary(uniqueKeysWithValues: slaves.map { ($0.id, $0.data!) })
        let position = LogPosition(lastCommittedTx: UInt64(tx.header.txID.rawValue))
        let round = PushRound()
        // A slave's forwarded commit is not pushed back to it (it pulls it before answering its client), but unlike
        // Neo4j the author does not count toward ha.tx_push_factor: the author alone is a weak second copy — an
        // election that happens before it reports its new position may pick a member without the transaction.
        let author = ForwardedTransactions.currentAuthor.map(MemberID.init)
        let candidates = addresses.keys.filter { $0 != author }
        let actions = state.withLock {
            $0.replication.transactionCommitted(position, author: nil, slaves: Array(candidates))
        }
        execute(actions, round: round, tx: tx, epoch: epoch, addresses: addresses)
        let waitMillis = Int(configuration.readTimeout.components.seconds * 1000) + 1000
        if round.group.wait(timeout: .now() + .milliseconds(waitMillis)) == .timedOut {
            warn("Transaction \(position.lastCommittedTx): slaves did not answer the push in time")
            // Strict mode promised the client durable copies; unanswered pushes are not copies.
            if strict {
                throw DatabaseError(
                    "Neo.DatabaseError.Cluster.ReplicationFailure",
                    "Transaction \(position.lastCommittedTx) is committed on the master but the slaves did not "
                        + "confirm it within \(waitMillis) ms, as ha.tx_push_strict=true requires. It stays committed "
                        + "and reaches the slaves by pulls; do not blindly retry it.")
            }
        }
        let outcome = round.lock.withLock { (round.failed, round.shortfall) }
        if let shortfall = outcome.1 {
            let now = ContinuousClock.now
            let suppressed: Int? = state.withLock { s in
                if let last = s.lastShortfallLog, now - last < .seconds(10) {
                    s.shortfallsNotLogged += 1
                    return nil
                }
                s.lastShortfallLog = now
                defer { s.shortfallsNotLogged = 0 }
                return s.shortfallsNotLogged
            }
            if let suppressed {
                warn(
                    "Transaction \(position.lastCommittedTx) couldn't commit on enough slaves, desired "
                        + "\(shortfall.desired), but could only commit at \(shortfall.replicated)"
                        + (suppressed > 0 ? " (\(suppressed) more since the last such message)" : ""))
            }
        }
        if let failed = outcome.0 {
            throw DatabaseError(
                "Neo.DatabaseError.Cluster.ReplicationFailure",
                "Transaction \(position.lastCommittedTx) is committed on the master but reached only "
                    + "\(failed.replicated) of the \(failed.required) slaves ha.tx_push_strict=true requires. It stays "
                    + "committed and reaches the slaves by pulls; do not blindly retry it.")
        }
    }

    private func execute(
        _ actions: [ReplicationStateMachine.Action], round: PushRound, tx: CommittedTransaction, epoch: Epoch,
        addresses: [MemberID: String]
    ) {
        for action in actions {
            switch action {
            case .push(let position, let slave):
                guard let address = addresses[slave] else { continue }
                let link = slaveLink(slave, address: address)
                round.group.enter()
                let timeout = configuration.readTimeout
                Task {
                    let ok: Bool
                    do {
                        let db = self.database
                        try await withTimeout(timeout) { try await link.push(tx, epoch: epoch, catchingUpFrom: db) }
                        ok = true
                    } catch {
                        self.debug.warning(
                            "push failed", metadata: ["slave": "\(slave.rawValue)", "tx": "\(position)",
                                                      "error": "\(error)"])
                        ok = false
                    }
                    let next = self.state.withLock { s in
                        ok ? s.replication.pushAcknowledged(position, by: slave)
                            : s.replication.pushFailed(position, to: slave)
                    }
                    if !ok { self.dropSlaveLink(slave) }
                    // New pushes enter the group before this one leaves, so the wait cannot end early.
                    self.execute(next, round: round, tx: tx, epoch: epoch, addresses: addresses)
                    round.group.leave()
                }
            case .acknowledgeCommit:
                break
            case .failCommit(_, let replicated, let required):
                round.lock.withLock { round.failed = (replicated, required) }
            case .reportShortfall(_, let replicated, let desired):
                round.lock.withLock { round.shortfall = (replicated, desired) }
            }
        }
    }

    private func slaveLink(_ id: MemberID, address: String) -> any HADataLink {
        state.withLock { s in
            if let existing = s.slaveLinks[id], existing.address == address { return existing.link }
            let link = transport.makeDataLink(address)
            if let old = s.slaveLinks[id]?.link { Task { await old.close() } }
            s.slaveLinks[id] = (address, link)
            return link
        }
    }

    private func dropSlaveLink(_ id: MemberID) {
        let old = state.withLock { $0.slaveLinks.removeValue(forKey: id) }
        if let link = old?.link { Task { await link.close() } }
    }

    // MARK: - Joining a master (slave)

    /// Branch check, store copy when needed, catch-up (neo4j-ha.md §5).
    func joinMaster(_ link: any HADataLink, master: MemberID, generation: Int) throws {
        let timeout = configuration.readTimeout
        let local = database.lastCommittedTxID
        let masterStore = try waitFor(timeout, "store id") { try await link.storeID() }
        if let masterStore, masterStore != database.storeID {
            // Another store id is another database (a store from elsewhere, or one created here before this member
            // first joined): never apply the master's transactions on top of it, replace it by a copy.
            if local.rawValue > 1 {
                warn(
                    "This store (\(database.storeID)) is not a copy of the master's store (\(masterStore)): it holds "
                        + "another database. It is moved away and replaced by a copy of the master's store.")
            } else {
                info("This empty store has another store id than the master's (\(masterStore)); copying the master's "
                     + "store.")
            }
            try copyStore(from: link, master: master, moveAway: local.rawValue > 1, generation: generation)
        } else if local.rawValue > 1 {
            let verdict = try branchVerdict(link, master: master, local: local, timeout: timeout)
            switch verdict {
            case .sameHistory:
                break
            case .branched(let at):
                warn(
                    "Branched data detected: this store's transaction \(at.lastCommittedTx) differs from the "
                        + "master's history.")
                try copyStore(from: link, master: master, moveAway: true, generation: generation)
            case .outOfDate:
                warn(
                    "The master no longer has transaction \(local.rawValue) in its logs; this store is too far "
                        + "behind to catch up and will be replaced by a copy.")
                try copyStore(from: link, master: master, moveAway: true, generation: generation)
            }
        }
        guard isCurrent(generation) else { return }
        info("Catching up with master. I'm at tx \(database.lastCommittedTxID.rawValue)")
        do {
            try pull(from: link, until: nil)
        } catch TransactionLogError.transactionsNotAvailable(let requested, let oldest) {
            warn(
                "The master's logs start at tx \(oldest.rawValue) but this store needs tx \(requested.rawValue); "
                    + "copying the store instead.")
            try copyStore(from: link, master: master, moveAway: database.lastCommittedTxID.rawValue > 1,
                          generation: generation)
            try pull(from: link, until: nil)
        } catch let error as TransactionLogError {
            if case .checksumChainBroken = error {
                warn("Branched data detected while pulling from the master: \(error)")
                try copyStore(from: link, master: master, moveAway: true, generation: generation)
                try pull(from: link, until: nil)
            } else {
                throw error
            }
        }
        info("Now caught up with master. I'm at tx \(database.lastCommittedTxID.rawValue)")
    }

    private func branchVerdict(
        _ link: any HADataLink, master: MemberID, local: TxID, timeout: Duration
    ) throws -> BranchDetector.Verdict {
        let mine: TransactionStamp
        do {
            let cursor = try database.committedTransactions(from: local)
            guard let tx = try cursor.next() else { return .sameHistory }
            mine = TransactionStamp(
                tx: LogPosition(lastCommittedTx: UInt64(tx.header.txID.rawValue)),
                epoch: Epoch(UInt64(max(0, tx.header.epoch))),
                master: MemberID(Int(tx.header.masterServerID)), checksum: tx.header.checksum)
        } catch TransactionLogError.transactionsNotAvailable {
            // Our own last transaction is not in our log (a store seeded without logs): the pull's checksum chain
            // check is the remaining guard.
            return .sameHistory
        }
        let theirs = try waitFor(timeout, "transaction stamp") { try await link.transactionStamp(at: local) }
        let masterLast = coordinator?.members.first { $0.id == master }?.lastCommittedTx ?? 0
        // The master's stamp answers for itself when coordination's view of its position lags.
        let masterPosition = LogPosition(lastCommittedTx: max(masterLast, theirs?.tx.lastCommittedTx ?? 0))
        return BranchDetector.compare(slaveLast: mine, masterLastCommitted: masterPosition, masterAtSameTx: theirs)
    }

    /// Replaces the local store by a copy of the master's, keeping the old one under `branched/` per
    /// `ha.branched_data_policy`, in the order `ha.branched_data_copying_strategy` says: `branch_then_copy` (Neo4j's
    /// default) moves the old store away, then copies; `copy_then_branch` copies into `<db>/temp-copy/` while the
    /// old store stays open, and only a complete copy makes it move away (a failed copy changes nothing).
    private func copyStore(from link: any HADataLink, master: MemberID, moveAway: Bool, generation: Int) throws {
        guard isCurrent(generation) else { return }
        // From here the local store is not the cluster's data (another store, a branch, or too old).
        state.withLock { s in
            s.storeVerified = false
            s.verifyingAgainst = master
        }
        let directory = config.databaseDirectory
        let timeout = max(configuration.readTimeout, .seconds(600))
        // The old store files go either way: kept as a branch when they hold history the master lacks,
        // otherwise deleted, so no stale file of theirs survives next to the copy.
        let policy = moveAway ? configuration.branchedDataPolicy : "keep_none"
        func moveOldStore() throws {
            let moved = try transport.moveToBranched(directory, policy)
            if moveAway {
                warn(
                    "Branched data detected: the store of this instance "
                        + (moved.isEmpty ? "was deleted" : "was moved to \(moved)")
                        + " (ha.branched_data_policy=\(policy))")
            }
        }
        if configuration.copyThenBranch {
            let root = directory + "/temp-copy"
            // A copy interrupted by a crash is useless (it has no log to continue from): start over.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix("copy-") {
                try? FileManager.default.removeItem(atPath: root + "/" + name)
            }
            let staging = root + "/copy-\(UInt32.random(in: 0...UInt32.max))"
            info(
                "Copying store from master (instance \(master.rawValue)) into \(staging) before moving this store "
                    + "away (ha.branched_data_copying_strategy=copy_then_branch)")
            let copiedAt: TxID
            do {
                try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                copiedAt = try waitFor(timeout, "store copy") { try await link.copyStore(into: staging) }
            } catch {
                try? FileManager.default.removeItem(atPath: staging)
                warn("The store copy from the master failed (\(error)); this instance keeps its store and retries")
                throw error
            }
            guard isCurrent(generation) else {
                try? FileManager.default.removeItem(atPath: staging)
                return
            }
            try service.replaceStore(
                reason: "This instance is replacing its store by a copy of the master's; retry.",
                grace: config.get(Settings.haInternalRoleSwitchTimeout)
            ) { _ in
                try moveOldStore()
                try StoreDirectories.installCopy(from: staging, into: directory)
                let reopened = try openDatabase(config)
                installGate(on: reopened)
                info("Copied store from master at tx \(copiedAt.rawValue)")
                return reopened
            }
        } else {
            info("Copying store from master (instance \(master.rawValue))")
            try service.replaceStore(
                reason: "This instance is copying the store from the master; retry.",
                grace: config.get(Settings.haInternalRoleSwitchTimeout)
            ) { _ in
                try moveOldStore()
                // The data port receives into <db>/temp-copy and renames into place, metadata last.
                let copiedAt = try waitFor(timeout, "store copy") { try await link.copyStore(into: directory) }
                let reopened = try openDatabase(config)
                installGate(on: reopened)
                info("Copied store from master at tx \(copiedAt.rawValue)")
                return reopened
            }
        }
        try rebindDataService()
    }

    /// The data port serves one `GraphDatabase`; after a store copy it is restarted on the same port over the
    /// new one.
    private func rebindDataService() throws {
        if let old = dataService.withLock({ $0 }) { blocking { await old.stop() } }
        let server = transport.makeDataService(database, forwarded)
        let (host, port) = (configuration.dataHost, dataPort)
        var attempts = 0
        while true {
            do {
                try blocking { try await server.start(host: host, port: port) }
                break
            } catch {
                attempts += 1
                guard attempts < 50 else { throw error }
                usleep(100_000)
            }
        }
        if case .slave(_, let epoch, _, _) = state.withLock({ $0.role }) { server.setEpoch(epoch, isMaster: false) }
        dataService.withLock { $0 = server }
    }

    /// Pulls and applies the master's transactions until none are left, or until `target` is applied. Only one
    /// pull runs at a time; transactions pushed meanwhile are skipped.
    func pull(from link: any HADataLink, until target: UInt64?) throws {
        pullLock.lock()
        defer { pullLock.unlock() }
        let timeout = configuration.readTimeout
        let batch = configuration.pullBatchSize
        let deadline = ContinuousClock.now + timeout
        while true {
            let db = database
            let last = db.lastCommittedTxID.rawValue
            if let target, UInt64(max(0, last)) >= target { return }
            let from = TxID(last + 1)
            let txs = try waitFor(timeout, "pull") { try await link.pullTransactions(from: from, limit: batch) }
            if txs.isEmpty {
                guard let target else { return }
                // The master said it committed `target`; it may still be writing it to its log.
                guard ContinuousClock.now < deadline else {
                    throw DatabaseError(
                        .databaseUnavailable,
                        "This slave could not get transaction \(target) from the master within \(timeout); the "
                            + "write is committed on the master. Retry reading later.")
                }
                usleep(2_000)
                continue
            }
            for tx in txs where tx.header.txID.rawValue > db.lastCommittedTxID.rawValue {
                do {
                    try db.applyReplicated(tx)
                } catch TransactionLogError.gap(let expected, let received)
                    where received.rawValue < expected.rawValue
                {
                    continue  // pushed meanwhile
                }
            }
            state.withLock { s in
                s.pullCount += 1
                s.lastPulledTx = UInt64(txs.last!.header.txID.rawValue)
                s.lastUpdate = Date()
            }
        }
    }

    /// Keeps `run/ha-role` equal to `roleName` (checked every 250 ms) so `trellis status` can show the role without
    /// credentials or a network round trip. A master losing its lease shows UNKNOWN within one check.
    private func startRoleFile() {
        let path = HARoleFile.path(config)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "trellis.ha.role-file"))
        nonisolated(unsafe) var written: String?
        timer.schedule(deadline: .now(), repeating: .milliseconds(250))
        timer.setEventHandler { [weak self] in
            guard let role = self?.roleName, role != written else { return }
            if (try? HARoleFile.write(role, to: path)) != nil { written = role }
        }
        timer.resume()
        roleFileTimer = timer
    }

    private func startPullTimer() {
        guard configuration.pullInterval > .zero else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "trellis.ha.pull"))
        let (s, a) = configuration.pullInterval.components
        let interval = DispatchTimeInterval.milliseconds(Int(s) * 1000 + Int(a / 1_000_000_000_000_000))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.pullTick() }
        timer.resume()
        pullTimer = timer
    }

    private func pullTick() {
        forwarded.reapIdle()
        guard case .slave(_, _, let link, true) = state.withLock({ $0.role }) else { return }
        do {
            try pull(from: link, until: nil)
        } catch {
            debug.warning("periodic pull from the master failed", metadata: ["error": "\(error)"])
        }
    }

    /// On an available slave, pulls from the master until `txID` is applied (bookmarks naming a transaction this
    /// member has not pulled yet). Elsewhere nothing to do: a master has everything, a pending member cannot ask.
    public func catchUp(to txID: Int64) throws {
        guard case .slave(_, _, let link, true) = state.withLock({ $0.role }), txID > 0 else { return }
        try pull(from: link, until: UInt64(txID))
    }

    /// `update()` of the JMX bean: pull from the master now.
    public func updateNow() -> String {
        let started = ContinuousClock.now
        guard case .slave(_, _, let link, _) = state.withLock({ $0.role }) else {
            return "Update failed: this instance is not a slave"
        }
        do {
            try pull(from: link, until: nil)
            let ms = (ContinuousClock.now - started).components
            return "Update completed in \(ms.seconds * 1000 + ms.attoseconds / 1_000_000_000_000_000)ms"
        } catch {
            return "Update failed: \(error)"
        }
    }

    // MARK: - What others see

    /// "master", "slave" or "UNKNOWN" (neo4j-ha.md §1: pending and switching states are UNKNOWN).
    public var roleName: String {
        switch currentRole {
        case .master: return isAvailable ? "master" : "UNKNOWN"
        case .slave: return isAvailable ? "slave" : "UNKNOWN"
        default: return "UNKNOWN"
        }
    }

    /// All members as coordination sees them.
    public var members: [HAMember] { coordinator?.members ?? [] }

    /// WRITE: the master's Bolt address; READ: available slaves (the master when there is none); ROUTE: every
    /// live data member. Empty WRITE while no master is known, so routing drivers wait and retry.
    public func routingTable() -> RoutingTable {
        let live = members.filter { !$0.isArbiter && $0.alive && $0.bolt != nil }
        let masters = live.filter { $0.role == "master" }.compactMap(\.bolt)
        let slaves = live.filter { $0.role == "slave" }.compactMap(\.bolt)
        let routers = live.compactMap(\.bolt)
        return RoutingTable(
            ttlSeconds: 10, writers: masters, readers: slaves.isEmpty ? masters : slaves,
            routers: routers.isEmpty ? boltAddress.map { [$0] } ?? [] : routers, database: "neo4j")
    }

    /// Pull statistics for the JMX bean.
    var lastUpdateTime: Date? { state.withLock { $0.lastUpdate } }

    /// Bytes the data port sent (nil with a transport that has no network).
    var networkTraffic: HANetworkTraffic? { transport.networkTraffic?() }

    /// Update pulls done by this member and the last tx id the latest one brought (`neo4j.cluster.slave_pull_*`).
    var pullStatistics: (count: Int, lastTx: UInt64) { state.withLock { ($0.pullCount, $0.lastPulledTx) } }
}

// MARK: - HAStatusProvider (HTTP /db/manage/server/ha/*)

extension HAInstance: HAStatusProvider {
    public var currentRole: HARole {
        switch state.withLock({ $0.role }) {
        case .master: return .master
        case .slave: return .slave
        case .pending: return .pending
        }
    }

    public var isAvailable: Bool {
        switch state.withLock({ $0.role }) {
        case .master: return coordinator?.isAcceptingWrites() ?? false
        case .slave(_, _, _, let available): return available
        case .pending: return false
        }
    }
}

// MARK: - WriteForwarding (slave writes)

extension HAInstance: WriteForwarding {
    public func checkLocalStoreServes() throws {
        let (verified, switching) = state.withLock { s in
            (s.storeVerified, s.verifiedAgainst == nil ? nil : s.verifyingAgainst)
        }
        guard verified else {
            if let master = switching {
                throw DatabaseError(
                    .databaseUnavailable,
                    "This instance is switching to slave of instance \(master.rawValue): its store is being checked "
                        + "against the new master's (or replaced by a copy of it) and serves no transactions until "
                        + "then. Retry, or use another member.")
            }
            throw DatabaseError(
                .databaseUnavailable,
                "This instance has not joined the cluster yet: its store is not yet checked against the master's (or "
                    + "is being replaced by a copy of it). Retry, or use another member.")
        }
    }

    public func forwardingTarget() throws -> ForwardingTarget? {
        switch state.withLock({ $0.role }) {
        case .master, .pending:
            return nil
        case .slave(_, let epoch, let link, let available):
            guard available else {
                throw DatabaseError(
                    .databaseUnavailable,
                    "This instance is switching to slave (checking or copying its store, catching up with the "
                        + "master); retry.")
            }
            return ForwardingTarget(
                master: link, epoch: epoch, author: me.rawValue, timeout: configuration.readTimeout
            ) { [weak self] tx in
                guard let self else { return }
                try self.pull(from: link, until: tx)
            }
        }
    }
}

/// Runs `body`, failing with a transient DatabaseUnavailable if it takes longer than `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw DatabaseError(.databaseUnavailable, "No answer within \(timeout)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

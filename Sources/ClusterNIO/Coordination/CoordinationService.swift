import ClusterCore
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Membership, heartbeats and master election over TCP (`ha.host.coordination`): the I/O shell around
/// `MasterElection`.
///
/// - **Transport.** Length-prefixed binary frames with a version byte (`CoordinationWire`). Every member keeps one
///   outgoing connection to each `ha.initial_hosts` entry (reconnecting with capped exponential back-off) and sends
///   only on those; it receives on the connections the others open to it. A message for a peer without an
///   established connection is dropped: the core tolerates loss.
/// - **Membership.** `ha.initial_hosts` names addresses, not ids. Each connection starts with a hello from both
///   sides (cluster name, server id, kind, incarnation, advertised addresses); a member learned this way is added to
///   the election's configuration. The voter set is the initial hosts, so quorum is a majority of their count from
///   the start, whether or not their ids are known yet. Refused (with a reason sent back and logged): another
///   cluster name, an address not in `ha.initial_hosts`, a second live member with the same server id, a member
///   claiming this member's id, malformed frames, or a protocol version this server does not speak.
/// - **Runner.** One event loop owns the state machine, all connections and the tick timer; time is
///   `ContinuousClock` (monotonic) since start. `.persist` is the only disk I/O: it runs on a separate queue and the
///   actions after it (the vote it protects, role changes) wait for it, while plain heartbeats keep flowing.
/// - **Outputs.** Role changes go to `onRoleChange` listeners, in order, on a serial queue off the event loop (a
///   listener may block, e.g. to switch the database to slave); `snapshot` and `isAcceptingWrites()` may be called
///   from any thread.
public final class CoordinationService: Sendable {
    private let runner: CoordinationRunner

    /// Creates the service. `lastCommitted` is read on every tick (cheap, non-blocking) to keep the election
    /// credentials current; so is `lastCommittedEpoch`, the epoch of the master that committed the last transaction,
    /// which ranks ahead of the tx id (`ElectionCredentials.outranks`; nil ranks on tx id alone, as Neo4j).
    public init(settings: CoordinationSettings, group: any EventLoopGroup, logger: Logger,
                lastCommitted: @escaping @Sendable () -> LogPosition,
                lastCommittedEpoch: (@Sendable () -> Epoch)? = nil) {
        runner = CoordinationRunner(settings: settings, loop: group.next(), logger: logger,
                                    lastCommitted: lastCommitted, lastCommittedEpoch: lastCommittedEpoch)
    }

    /// Loads the election state, binds `ha.host.coordination`, and starts heartbeats, connections and elections.
    /// Returns once listening (see `boundPort`); joining the cluster happens in the background and is reported
    /// through `onRoleChange`.
    public func start() async throws {
        try await runner.start()
    }

    /// The port actually bound (useful when the settings ask for port 0); 0 before `start()`.
    public var boundPort: Int { runner.shared.withLock { $0.boundPort } }

    /// Leaves the cluster: a master first stops accepting writes and tells the others it resigns, so they elect a
    /// successor at once (a crash costs a heartbeat time-out instead). Then every connection is closed and the timers
    /// stop; no listener is called after this returns. The election state on disk stays (a restart resumes from it).
    public func stop() async {
        await runner.stop(resign: true)
    }

    /// Test hook: stop like a crashed process (connections close, nobody is told anything).
    package func stopAbruptly() async {
        await runner.stop(resign: false)
    }

    /// Registers a listener for role changes. Listeners run one at a time, in order, off the event loop. A listener
    /// registered while this member is master or slave is told the current role right away.
    public func onRoleChange(_ listener: @escaping @Sendable (ClusterRoleEvent) -> Void) {
        runner.addListener(listener)
    }

    /// This member's current view of the cluster.
    public var snapshot: ClusterSnapshot {
        runner.shared.withLock { ClusterSnapshot(me: runner.settings.me, event: $0.event, members: $0.members) }
    }

    /// True only while this member is master and a majority acknowledged one of its heartbeats within the heartbeat
    /// time-out (its lease): check it before every commit. Any thread.
    public func isAcceptingWrites() -> Bool {
        runner.isAcceptingWrites()
    }

    /// Test hook: called on the persistence queue before every election-state save; it may block (a stalled disk),
    /// to show that heartbeats do not wait for the save.
    package func setPersistHook(_ hook: (@Sendable () -> Void)?) {
        runner.loop.execute { self.runner.persistHook = hook }
    }

    /// Test hook: drop every election message this member sends or receives (a network partition around it).
    /// Hellos still pass, so connections stay up and the partition heals as soon as this is switched off.
    package func setTrafficDropped(_ dropped: Bool) {
        runner.loop.execute { self.runner.dropTraffic = dropped }
    }
}

/// State readable from any thread.
struct CoordinationSharedState: Sendable {
    var boundPort = 0
    var event: ClusterRoleEvent = .pending
    var leaseExpiresAt: Duration?
    var members: [MemberStatus] = []
    var listeners: [@Sendable (ClusterRoleEvent) -> Void] = []
    var stopped = false
}

/// A "host:port" from `ha.initial_hosts`.
struct CoordinationHostAddress: Hashable, Sendable {
    var host: String
    var port: Int

    /// Parses "host:port" or "[v6]:port".
    init(parsing text: String) throws {
        let trimmed = text.trimmingWhitespace()
        var host: Substring
        let portText: Substring
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw CoordinationError("\"\(text)\" is not host:port") }
            portText = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw CoordinationError("\"\(text)\" is not host:port (ha.initial_hosts lists coordination addresses)")
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else {
            throw CoordinationError("\"\(text)\" is not host:port with a port in 1...65535")
        }
        if host.lowercased() == "localhost" { host = "127.0.0.1" }
        self.host = host.lowercased()
        self.port = port
    }

    var normalized: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// One TCP connection on the coordination port. Touched only on the runner's event loop (timers that capture it
/// run there too), hence `@unchecked Sendable`.
final class CoordinationConnection: @unchecked Sendable {
    enum Direction: Equatable {
        case incoming
        /// To `initialHosts[index]`.
        case outgoing(Int)
    }

    let channel: any Channel
    let direction: Direction
    /// Known after its hello was accepted.
    var peer: MemberID?
    var closing = false
    /// When the hello was accepted (runner clock), for retiring silent outgoing links.
    var establishedAt: Duration?

    init(channel: any Channel, direction: Direction) {
        self.channel = channel
        self.direction = direction
    }

    var remoteDescription: String {
        channel.remoteAddress.map { "\($0)" } ?? "an unknown address"
    }
}

/// Feeds a connection's frames to the runner.
final class CoordinationChannelHandler: ChannelInboundHandler {
    typealias InboundIn = CoordinationFrame

    private let runner: CoordinationRunner
    private let connection: CoordinationConnection

    init(runner: CoordinationRunner, connection: CoordinationConnection) {
        self.runner = runner
        self.connection = connection
    }

    func channelActive(context: ChannelHandlerContext) {
        runner.connectionActive(connection)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        runner.frameReceived(unwrapInboundIn(data), on: connection)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        runner.connectionFailed(connection, error: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        runner.connectionClosed(connection)
        context.fireChannelInactive()
    }
}

/// The event-loop-confined runner behind `CoordinationService`. Every `var` is touched only on `loop`, except
/// `shared` (a mutex), which is why the class can be `@unchecked Sendable`.
final class CoordinationRunner: @unchecked Sendable {
    typealias Action = MasterElection.Action

    private struct KnownMember {
        var kind: MemberKind
        var addresses: MemberAddresses
        var incarnation: UInt64
        var reportedRole: ReportedRole = .unknown
        var lastCommitted = LogPosition(lastCommittedTx: 0)
    }

    private struct OutgoingSlot {
        var address: CoordinationHostAddress
        var connection: CoordinationConnection?
        var isSelf = false
        var backoff: Duration
        var reconnect: Scheduled<Void>?
    }

    let settings: CoordinationSettings
    let loop: any EventLoop
    let shared = Mutex(CoordinationSharedState())
    private let logger: Logger
    private let lastCommitted: @Sendable () -> LogPosition
    private let lastCommittedEpoch: (@Sendable () -> Epoch)?
    private let clockBase = ContinuousClock.now
    private let incarnation = UInt64.random(in: 1...UInt64.max)
    private let store: ElectionStateStore
    private let listenerQueue: DispatchQueue
    private let persistQueue: DispatchQueue

    // Event-loop state.
    private var initialHosts: [CoordinationHostAddress] = []
    private var expectedMemberCount = 0
    private var election: MasterElection?
    private var serverChannel: (any Channel)?
    private var stopped = false
    private var stopping = false
    /// While resigning: the write futures of the frames sent, so stop() can wait for them.
    private var pendingFlushes: [EventLoopFuture<Void>]?
    private var members: [MemberID: KnownMember] = [:]
    private var outgoing: [OutgoingSlot] = []
    private var outgoingByMember: [MemberID: CoordinationConnection] = [:]
    private var connections: [ObjectIdentifier: CoordinationConnection] = [:]
    private var tickTimer: Scheduled<Void>?
    private var joinTimer: RepeatedTask?
    private var persistInFlight = false
    private var deferred: [Action] = []
    private var publishedEvent: ClusterRoleEvent = .pending
    private var enteredCluster = false
    private var announcedMasterEpoch: Epoch?
    private var loggedRefusals: Set<String> = []
    var dropTraffic = false
    var persistHook: (@Sendable () -> Void)?

    init(settings: CoordinationSettings, loop: any EventLoop, logger: Logger,
         lastCommitted: @escaping @Sendable () -> LogPosition, lastCommittedEpoch: (@Sendable () -> Epoch)?) {
        self.settings = settings
        self.loop = loop
        var logger = logger
        logger[metadataKey: "member"] = "\(settings.me.rawValue)"
        self.logger = logger
        self.lastCommitted = lastCommitted
        self.lastCommittedEpoch = lastCommittedEpoch
        self.store = ElectionStateStore(directory: settings.stateDirectory)
        self.listenerQueue = DispatchQueue(label: "trellis.coordination.\(settings.me.rawValue).listeners")
        self.persistQueue = DispatchQueue(label: "trellis.coordination.\(settings.me.rawValue).persist")
    }

    // MARK: - Start and stop

    func start() async throws {
        // ClusterConfiguration treats these as invariants (preconditions); an operator's typo must be an error.
        guard settings.heartbeatInterval > .zero else {
            throw CoordinationError("ha.heartbeat_interval must be positive, got \(settings.heartbeatInterval)")
        }
        guard settings.heartbeatTimeout >= settings.heartbeatInterval * 2 else {
            throw CoordinationError("ha.heartbeat_timeout (\(settings.heartbeatTimeout)) must be at least twice "
                + "ha.heartbeat_interval (\(settings.heartbeatInterval)), or one lost heartbeat causes a failover")
        }
        guard settings.electionTimeout > .zero, settings.joinTimeout > .zero else {
            throw CoordinationError("ha.election_timeout and ha.join_timeout must be positive, got "
                + "\(settings.electionTimeout) and \(settings.joinTimeout)")
        }
        let hosts = try settings.initialHosts.map(CoordinationHostAddress.init(parsing:))
        var unique: [CoordinationHostAddress] = []
        for host in hosts where !unique.contains(host) { unique.append(host) }
        guard !unique.isEmpty else { throw CoordinationError("ha.initial_hosts is empty") }
        let own = try CoordinationHostAddress(parsing: settings.addresses.coordination)
        if !unique.contains(own) {
            // Members only admit instances whose address they list, so this one would wait for a cluster forever
            // (it looks just like waiting for peers that are down): say so at start.
            let listed = unique.map(\.normalized).joined(separator: ", ")
            let text = "This member's coordination address \(own.normalized) (ha.host.coordination, or "
                + "ha.host.coordination.advertised_address) is not in ha.initial_hosts [\(listed)]: the other "
                + "members will refuse it. List every member's coordination address, this one's included, in "
                + "ha.initial_hosts on every member"
            logger.warning("\(text)")
        }
        let expected = unique.count + (unique.contains(own) ? 0 : 1)
        let hostsToDial = unique
        try store.prepareDirectory()
        let persistent = try store.load()

        try await loop.submit {
            self.initialHosts = hostsToDial
            self.expectedMemberCount = expected
            let configuration = ClusterConfiguration(
                members: [ClusterMemberConfiguration(id: self.settings.me, kind: self.settings.kind)],
                heartbeatInterval: self.settings.heartbeatInterval,
                heartbeatTimeout: self.settings.heartbeatTimeout,
                electionTimeout: self.settings.electionTimeout,
                expectedMemberCount: expected
            )
            var election = MasterElection(configuration: configuration, me: self.settings.me, persistent: persistent,
                                          lastCommitted: self.lastCommitted(),
                                          lastCommittedEpoch: self.lastCommittedEpoch?() ?? .zero, now: self.now(),
                                          seed: self.incarnation)
            election.allowInitCluster = self.settings.allowInitCluster
            self.election = election
        }.get()

        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        let connection = CoordinationConnection(channel: channel, direction: .incoming)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(CoordinationFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(
                            CoordinationChannelHandler(runner: self, connection: connection))
                    }
                }
                .bind(host: settings.listenHost, port: settings.listenPort).get()
        } catch {
            throw CoordinationError("cannot listen on ha.host.coordination \(settings.listenHost):"
                + "\(settings.listenPort): \(error)")
        }
        let port = channel.localAddress?.port ?? settings.listenPort
        shared.withLock { $0.boundPort = port }

        try await loop.submit {
            self.serverChannel = channel
            let hostList = self.initialHosts.map(\.normalized).joined(separator: ", ")
            self.logger.info("Attempting to join cluster of [\(hostList)]", metadata: [
                "cluster": "\(self.settings.clusterName)", "port": "\(port)",
            ])
            self.outgoing = self.initialHosts.map {
                OutgoingSlot(address: $0, backoff: self.initialBackoff)
            }
            for index in self.outgoing.indices { self.connect(index) }
            self.input { $0.start(now: self.now()) }
            let joinTimeout = TimeAmount.nanoseconds(Self.nanoseconds(self.settings.joinTimeout))
            self.joinTimer = self.loop.scheduleRepeatedTask(initialDelay: joinTimeout, delay: joinTimeout) { _ in
                self.joinTimedOut()
            }
        }.get()
    }

    func stop(resign: Bool) async {
        let closed: EventLoopFuture<Void> = loop.flatSubmit {
            guard !self.stopping else { return self.loop.makeSucceededVoidFuture() }
            self.stopping = true
            guard resign else { return self.shutDown() }
            return self.resignAndWait().flatMap { self.shutDown() }
        }
        try? await closed.get()
        // Let an in-flight persist finish, so the state directory is quiet when stop() returns.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            persistQueue.async { continuation.resume() }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            listenerQueue.async { continuation.resume() }
        }
    }

    /// A master stops accepting writes and tells its peers it resigns (`MasterElection.resign`), so a planned
    /// restart of the master costs an election round trip rather than a heartbeat time-out. Waits for those frames
    /// to reach the socket, at most 200 ms.
    private func resignAndWait() -> EventLoopFuture<Void> {
        guard election != nil, serverChannel != nil else { return loop.makeSucceededVoidFuture() }
        pendingFlushes = []
        input { $0.resign(now: now()) }
        let written = pendingFlushes ?? []
        pendingFlushes = nil
        guard !written.isEmpty else { return loop.makeSucceededVoidFuture() }
        let done = loop.makePromise(of: Void.self)
        let settled = NIOLoopBoundBox(false, eventLoop: loop)
        let finish: @Sendable () -> Void = {
            guard !settled.value else { return }
            settled.value = true
            done.succeed()
        }
        EventLoopFuture.whenAllComplete(written, on: loop).whenComplete { _ in finish() }
        loop.scheduleTask(in: .milliseconds(200)) { finish() }
        return done.futureResult
    }

    private func shutDown() -> EventLoopFuture<Void> {
        stopped = true
        shared.withLock {
            $0.stopped = true
            $0.leaseExpiresAt = nil
        }
        tickTimer?.cancel()
        joinTimer?.cancel()
        for slot in outgoing { slot.reconnect?.cancel() }
        var futures: [EventLoopFuture<Void>] = []
        if let server = serverChannel { futures.append(server.close().recover { _ in }) }
        for connection in connections.values {
            futures.append(connection.channel.close().recover { _ in })
        }
        logger.info("Instance \(settings.me.rawValue) (this server) left the cluster")
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }

    func addListener(_ listener: @escaping @Sendable (ClusterRoleEvent) -> Void) {
        shared.withLock { state in
            state.listeners.append(listener)
            let current = state.event
            if current != .pending, !state.stopped {
                // Queued under the lock so it cannot overtake an event published concurrently.
                listenerQueue.async { listener(current) }
            }
        }
    }

    func isAcceptingWrites() -> Bool {
        let now = now()
        return shared.withLock { state in
            guard !state.stopped, case .master = state.event, let expiry = state.leaseExpiresAt else { return false }
            return now < expiry
        }
    }

    // MARK: - Clock and timers

    private func now() -> Duration {
        clockBase.duration(to: .now)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private var initialBackoff: Duration { max(settings.heartbeatInterval / 4, .milliseconds(10)) }
    private var maximumBackoff: Duration { max(settings.heartbeatInterval * 2, .milliseconds(50)) }

    private func scheduleTick(after delay: Duration) {
        tickTimer?.cancel()
        tickTimer = loop.scheduleTask(in: .nanoseconds(Self.nanoseconds(delay))) { [self] in
            guard !stopped else { return }
            let position = lastCommitted()
            let lastEpoch = lastCommittedEpoch?() ?? .zero
            input { election in
                election.logPositionChanged(to: position, lastEpoch: lastEpoch)
                return election.tick(now: now())
            }
            retireSilentLinks()
        }
    }

    /// Closes (and so redials) outgoing links to peers not heard from for a heartbeat time-out. After a network cut
    /// a TCP connection can stay "open" with its data stuck in retransmission back-off for minutes after the link
    /// heals; a fresh connection works at once. A dead peer refuses the redial immediately, so this costs nothing.
    private func retireSilentLinks() {
        guard let election else { return }
        let now = now()
        for (peer, connection) in outgoingByMember where !election.failureDetector.isHeard(peer, now: now) {
            guard let established = connection.establishedAt, now - established >= settings.heartbeatTimeout else {
                continue
            }
            logger.debug("Redialling instance \(peer.rawValue): silent for a heartbeat time-out")
            connection.closing = true
            outgoingByMember[peer] = nil
            connection.channel.close(promise: nil)
        }
    }

    private func joinTimedOut() {
        guard !stopped, !enteredCluster else { return }
        let hosts = initialHosts.map(\.normalized).joined(separator: ", ")
        if settings.allowInitCluster {
            logger.warning(Logger.Message(stringLiteral: "Could not join cluster of [\(hosts)] within ha.join_timeout; "
                + "still trying (a master needs a majority of the initial hosts: \(expectedMemberCount / 2 + 1) of "
                + "\(expectedMemberCount))"))
        } else {
            logger.warning(Logger.Message(stringLiteral: "Could not join cluster of [\(hosts)], timed out. Retrying... "
                + "(ha.allow_init_cluster=false: this instance waits for an existing master and never creates the "
                + "cluster)"))
        }
    }

    // MARK: - Driving the state machine

    /// Runs one input through the state machine, executes its actions, and publishes what changed.
    private func input(_ body: (inout MasterElection) -> [Action]) {
        loop.preconditionInEventLoop()
        guard !stopped, var election else { return }
        let suspectedBefore = election.failureDetector.suspected
        let failedBefore = election.failureDetector.failed
        self.election = nil
        let actions = body(&election)
        self.election = election
        logFailureDetection(suspectedBefore: suspectedBefore, failedBefore: failedBefore)
        execute(actions)
        refreshShared()
    }

    private func execute(_ actions: [Action]) {
        for action in actions {
            if persistInFlight {
                switch action {
                case .send(_, .heartbeat(let heartbeat)) where !heartbeat.isMaster:
                    // A plain heartbeat asserts nothing the pending persist protects: it may go now.
                    perform(action)
                case .scheduleTimer:
                    // Role changes wait with the rest so they are published in order; giving up writes takes effect
                    // at once anyway, because `isAcceptingWrites()` reads the lease straight from the machine.
                    perform(action)
                default:
                    deferred.append(action)
                }
                continue
            }
            if case .persist(let state) = action {
                startPersist(state)
            } else {
                perform(action)
            }
        }
    }

    private func startPersist(_ state: PersistentElectionState) {
        persistInFlight = true
        let store = self.store
        let hook = persistHook
        persistQueue.async { [self] in
            hook?()
            let failure: (any Error)?
            do {
                try store.save(state)
                failure = nil
            } catch {
                failure = error
            }
            let message = failure.map { "\($0)" }
            loop.execute { self.persistFinished(state, failure: message) }
        }
    }

    private func persistFinished(_ state: PersistentElectionState, failure: String?) {
        persistInFlight = false
        var pending = deferred
        deferred = []
        if let failure {
            // Without the vote on disk the vote must not leave this member; the core tolerates the lost message.
            logger.error(Logger.Message(stringLiteral: "Could not save the election state (\(state.currentEpoch)): "
                + "\(failure); votes and mastership claims that depended on it are not sent"))
            pending.removeAll {
                if case .send = $0 { return true }
                if case .becomeMaster = $0 { return true }
                return false
            }
        }
        guard !stopped else { return }
        execute(pending)
        refreshShared()
    }

    private func perform(_ action: Action) {
        switch action {
        case .send(let peer, let message):
            send(message, to: peer)
        case .persist(let state):
            startPersist(state)
        case .becomeMaster(let epoch):
            publish(.master(epoch: epoch))
        case .becomeSlave(let master, let epoch):
            let addresses = members[master]?.addresses ?? MemberAddresses(coordination: "unknown")
            publish(.slave(master: master, epoch: epoch, masterAddresses: addresses))
        case .becomePending, .stopAcceptingWrites:
            publish(.pending)
        case .scheduleTimer(let delay):
            scheduleTick(after: delay)
        }
    }

    private func send(_ message: ClusterMessage, to peer: MemberID) {
        guard !dropTraffic, let connection = outgoingByMember[peer], !connection.closing,
              connection.channel.isActive
        else { return }
        // A peer that does not read (stalled) must not make this member buffer without bound: drop instead.
        guard connection.channel.isWritable else { return }
        var role = ReportedRole.unknown
        switch election?.role {
        case .master: role = .master
        case .slave: role = .slave
        default: break
        }
        var buffer = connection.channel.allocator.buffer(capacity: 96)
        CoordinationFrame.message(message, role: role).encode(into: &buffer)
        if pendingFlushes != nil {
            pendingFlushes!.append(connection.channel.writeAndFlush(buffer))
        } else {
            connection.channel.writeAndFlush(buffer, promise: nil)
        }
    }

    private func publish(_ event: ClusterRoleEvent) {
        guard event != publishedEvent, !stopped else { return }
        let previous = publishedEvent
        publishedEvent = event
        let me = settings.me.rawValue
        switch event {
        case .master(let epoch):
            logEntered()
            announcedMasterEpoch = epoch
            logger.info("Instance \(me) was elected as master", metadata: ["epoch": "\(epoch.rawValue)"])
            logger.info("Database available for write transactions", metadata: ["epoch": "\(epoch.rawValue)"])
        case .slave(let master, let epoch, let addresses):
            logEntered()
            if announcedMasterEpoch != epoch {
                announcedMasterEpoch = epoch
                logger.info("Instance \(master.rawValue) was elected as master",
                            metadata: ["epoch": "\(epoch.rawValue)"])
            }
            logger.info(Logger.Message(stringLiteral: "Instance \(me) (this server) follows instance "
                + "\(master.rawValue) as master at \(addresses.data ?? addresses.coordination)"),
                metadata: ["epoch": "\(epoch.rawValue)"])
        case .pending:
            switch previous {
            case .master(let epoch):
                let reason = stopping
                    ? "it is shutting down and resigned" : "it lost its majority or a newer epoch began"
                logger.warning(Logger.Message(stringLiteral: "Write transactions to database disabled: instance "
                    + "\(me) (this server) is no longer master (\(reason))"),
                    metadata: ["epoch": "\(epoch.rawValue)"])
            case .slave(let master, let epoch, _):
                logger.warning(Logger.Message(stringLiteral: "Instance \(me) (this server) lost master instance "
                    + "\(master.rawValue); reads only until a master is elected"),
                    metadata: ["epoch": "\(epoch.rawValue)"])
            case .pending:
                break
            }
        }
        shared.withLock { state in
            state.event = event
            for listener in state.listeners {
                listenerQueue.async { listener(event) }
            }
        }
    }

    private func logEntered() {
        guard !enteredCluster else { return }
        enteredCluster = true
        logger.info("Instance \(settings.me.rawValue) (this server) entered the cluster")
    }

    private func logFailureDetection(suspectedBefore: Set<MemberID>, failedBefore: Set<MemberID>) {
        guard let detector = election?.failureDetector else { return }
        for member in detector.failed.subtracting(failedBefore).sorted() {
            logger.warning("Instance \(member.rawValue) has failed")
        }
        for member in suspectedBefore.subtracting(detector.suspected).sorted() {
            logger.info("Instance \(member.rawValue) is alive")
        }
        for member in detector.suspected.subtracting(suspectedBefore).sorted() {
            logger.debug("Instance \(member.rawValue) is suspected: no heartbeat within ha.heartbeat_timeout")
        }
    }

    private func refreshShared() {
        guard let election else { return }
        let now = now()
        var rows: [MemberStatus] = []
        let myRole: String
        switch (settings.kind, publishedEvent) {
        case (.arbiter, _): myRole = "arbiter"
        case (_, .master): myRole = "master"
        case (_, .slave): myRole = "slave"
        default: myRole = "UNKNOWN"
        }
        rows.append(MemberStatus(id: settings.me, kind: settings.kind, addresses: settings.addresses, alive: true,
                                 role: myRole, lastCommitted: election.lastCommitted))
        var followed: MemberID?
        if case .slave(let master, _, _) = publishedEvent { followed = master }
        for (id, member) in members {
            let alive = election.failureDetector.isHeard(id, now: now)
            let role: String
            if member.kind == .arbiter {
                role = "arbiter"
            } else if !alive {
                role = "UNKNOWN"
            } else if id == followed {
                role = "master"
            } else {
                switch member.reportedRole {
                case .master: role = "master"
                case .slave: role = "slave"
                case .unknown: role = "UNKNOWN"
                }
            }
            rows.append(MemberStatus(id: id, kind: member.kind, addresses: member.addresses, alive: alive,
                                     role: role, lastCommitted: member.lastCommitted))
        }
        rows.sort { $0.id < $1.id }
        // Writes need both: the server was told it is master of this epoch, and the machine still is, with a lease.
        var lease: Duration?
        if case .master(let epoch) = publishedEvent, election.role == .master(epoch: epoch),
           let expiry = election.leaseExpiresAt
        {
            // The lease argument assumes members' clocks run at the same rate. Ending it 2% early covers rate
            // differences far beyond what NTP allows (500 ppm), at the cost of 40 ms of a 2 s lease.
            lease = expiry - settings.heartbeatTimeout / 50
        }
        shared.withLock { state in
            state.members = rows
            state.leaseExpiresAt = lease
        }
    }

    // MARK: - Connections

    private func connect(_ index: Int) {
        guard !stopped, !outgoing[index].isSelf else { return }
        let address = outgoing[index].address
        let timeout = TimeAmount.nanoseconds(Self.nanoseconds(max(settings.heartbeatTimeout, .seconds(1))))
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = CoordinationConnection(channel: channel, direction: .outgoing(index))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(CoordinationFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        CoordinationChannelHandler(runner: self, connection: connection))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { [self] error in
                loop.preconditionInEventLoop()
                logger.trace("Cannot reach \(address.normalized): \(error)")
                scheduleReconnect(index)
            }
    }

    private func scheduleReconnect(_ index: Int) {
        guard !stopped, !outgoing[index].isSelf, outgoing[index].reconnect == nil else { return }
        let delay = outgoing[index].backoff
        outgoing[index].backoff = min(delay * 2, maximumBackoff)
        outgoing[index].reconnect = loop.scheduleTask(in: .nanoseconds(Self.nanoseconds(delay))) { [self] in
            outgoing[index].reconnect = nil
            connect(index)
        }
    }

    func connectionActive(_ connection: CoordinationConnection) {
        guard !stopped else {
            connection.channel.close(promise: nil)
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        if case .outgoing(let index) = connection.direction {
            outgoing[index].connection = connection
            sendHello(on: connection)
        }
        // A connection without a hello is cut off rather than held open forever: an incoming one from a client that
        // never identifies itself, or an outgoing one to a process that accepted (its kernel did) but does not
        // answer, e.g. one paused with SIGSTOP. Closing an outgoing one redials it.
        let limit = max(settings.heartbeatTimeout, .seconds(2))
        loop.scheduleTask(in: .nanoseconds(Self.nanoseconds(limit))) { [self] in
            guard connection.peer == nil, !connection.closing, connection.channel.isActive else { return }
            if connection.direction == .incoming {
                logRefusal("Refused coordination connection from \(connection.remoteDescription): no hello within "
                    + "\(limit)", key: "no-hello|\(connection.remoteDescription)")
            } else {
                logger.debug("No hello from \(connection.remoteDescription) within \(limit); redialling")
            }
            connection.closing = true
            connection.channel.close(promise: nil)
        }
    }

    func connectionClosed(_ connection: CoordinationConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if let peer = connection.peer, outgoingByMember[peer] === connection {
            outgoingByMember[peer] = nil
        }
        if case .outgoing(let index) = connection.direction, !stopped {
            if outgoing[index].connection === connection { outgoing[index].connection = nil }
            scheduleReconnect(index)
        }
    }

    func connectionFailed(_ connection: CoordinationConnection, error: any Error) {
        guard !stopped else { return }
        if error is CoordinationWireError || error is ByteToMessageDecoderError {
            logRefusal("Refused coordination connection from \(connection.remoteDescription): malformed frame: "
                + "\(error)", key: "malformed|\(connection.remoteDescription)|\(error)")
        } else {
            logger.debug("Coordination connection \(connection.remoteDescription) failed: \(error)")
        }
        connection.closing = true
    }

    private func sendHello(on connection: CoordinationConnection) {
        let hello = CoordinationHello(clusterName: settings.clusterName, member: settings.me, kind: settings.kind,
                                      incarnation: incarnation, addresses: settings.addresses)
        var buffer = connection.channel.allocator.buffer(capacity: 256)
        CoordinationFrame.hello(hello).encode(into: &buffer)
        connection.channel.writeAndFlush(buffer, promise: nil)
    }

    /// Sends the reason, logs it, and closes.
    private func refuse(_ connection: CoordinationConnection, reason: String, error: Bool = false) {
        let line = "Refused coordination connection from \(connection.remoteDescription): \(reason)"
        if error {
            logger.error("\(line)")
        } else {
            logRefusal(line, key: reason)
        }
        connection.closing = true
        var buffer = connection.channel.allocator.buffer(capacity: 64 + reason.utf8.count)
        CoordinationFrame.refused(reason: reason).encode(into: &buffer)
        let channel = connection.channel
        channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Logs a refusal at warning level once per distinct reason, then at debug: a misconfigured peer retries every
    /// back-off period and must not flood the log.
    private func logRefusal(_ line: String, key: String) {
        if loggedRefusals.count < 1000, loggedRefusals.insert(key).inserted {
            logger.warning("\(line)")
        } else {
            logger.debug("\(line)")
        }
    }

    func frameReceived(_ frame: CoordinationFrame, on connection: CoordinationConnection) {
        guard !stopped, !connection.closing else { return }
        switch frame {
        case .hello(let hello):
            helloReceived(hello, on: connection)
        case .refused(let reason):
            connection.closing = true
            logRefusal("Instance at \(connection.remoteDescription) refused this member: \(reason)",
                       key: "refused-by|\(connection.remoteDescription)|\(reason)")
            connection.channel.close(promise: nil)
        case .message(let message, let role):
            guard let peer = connection.peer else {
                refuse(connection, reason: "sent a cluster message before its hello")
                return
            }
            guard !dropTraffic else { return }
            if case .heartbeat(let heartbeat) = message {
                members[peer]?.reportedRole = role
                members[peer]?.lastCommitted = heartbeat.lastCommitted
            }
            if case .resign(let epoch) = message {
                members[peer]?.reportedRole = .unknown
                logger.info("Instance \(peer.rawValue) resigned as master (clean shutdown)",
                            metadata: ["epoch": "\(epoch.rawValue)"])
            }
            input { $0.messageReceived(message, from: peer, now: now()) }
        }
    }

    private func helloReceived(_ hello: CoordinationHello, on connection: CoordinationConnection) {
        guard connection.peer == nil else {
            refuse(connection, reason: "sent a second hello")
            return
        }
        guard hello.clusterName == settings.clusterName else {
            refuse(connection, reason: "instance \(hello.member.rawValue) at \(hello.addresses.coordination) belongs "
                + "to cluster '\(hello.clusterName)', this is cluster '\(settings.clusterName)'")
            return
        }
        if hello.member == settings.me {
            if hello.incarnation == incarnation {
                // One of the initial hosts is this member itself: never dial it again.
                if case .outgoing(let index) = connection.direction { outgoing[index].isSelf = true }
                connection.closing = true
                connection.channel.close(promise: nil)
            } else {
                refuse(connection, reason: "duplicate server id: the instance at \(hello.addresses.coordination) "
                    + "claims ha.server_id=\(hello.member.rawValue), which is this instance's id "
                    + "(\(settings.addresses.coordination)); every member needs a unique ha.server_id", error: true)
            }
            return
        }
        let claimed: CoordinationHostAddress
        do {
            claimed = try CoordinationHostAddress(parsing: hello.addresses.coordination)
        } catch {
            refuse(connection, reason: "instance \(hello.member.rawValue) advertises an invalid coordination "
                + "address: \(error)")
            return
        }
        guard initialHosts.contains(claimed) else {
            refuse(connection, reason: "instance \(hello.member.rawValue) at \(claimed.normalized) is not in "
                + "ha.initial_hosts [\(initialHosts.map(\.normalized).joined(separator: ", "))]")
            return
        }
        guard let election else { return }
        if let known = members[hello.member] {
            let knownAddress = (try? CoordinationHostAddress(parsing: known.addresses.coordination))?.normalized
            if knownAddress != claimed.normalized {
                refuse(connection, reason: "duplicate server id: instances at \(knownAddress ?? "?") and "
                    + "\(claimed.normalized) both claim ha.server_id=\(hello.member.rawValue); every member needs "
                    + "a unique ha.server_id", error: true)
                return
            }
            guard known.kind == hello.kind else {
                refuse(connection, reason: "instance \(hello.member.rawValue) was \(known.kind) and now claims to be "
                    + "\(hello.kind); restart the cluster to change a member's kind", error: true)
                return
            }
            if known.incarnation != hello.incarnation {
                logger.info("Instance \(hello.member.rawValue) restarted and is back in the cluster")
                members[hello.member]?.incarnation = hello.incarnation
                members[hello.member]?.addresses = hello.addresses
            }
        } else {
            if let (otherID, _) = members.first(where: {
                (try? CoordinationHostAddress(parsing: $0.value.addresses.coordination)) == claimed
            }) {
                refuse(connection, reason: "\(claimed.normalized) was instance \(otherID.rawValue) and now claims "
                    + "ha.server_id=\(hello.member.rawValue); restart every member to change server ids", error: true)
                return
            }
            guard members.count + 1 < expectedMemberCount else {
                refuse(connection, reason: "instance \(hello.member.rawValue) would exceed the \(expectedMemberCount) "
                    + "members ha.initial_hosts allows", error: true)
                return
            }
            members[hello.member] = KnownMember(kind: hello.kind, addresses: hello.addresses,
                                                incarnation: hello.incarnation)
            let member = ClusterMemberConfiguration(id: hello.member, kind: hello.kind)
            let configuration = election.configuration.adding(member)
            input { $0.membershipChanged(to: configuration, now: now()); return [] }
            logger.info("Instance \(hello.member.rawValue) has joined the cluster", metadata: [
                "kind": "\(hello.kind)", "coordination": "\(claimed.normalized)",
            ])
        }
        connection.peer = hello.member
        connection.establishedAt = now()
        switch connection.direction {
        case .incoming:
            // A member that redialled (restart, or a link it retired) no longer uses its older connection.
            for other in connections.values where other !== connection && other.direction == .incoming
                && other.peer == hello.member && !other.closing
            {
                other.closing = true
                other.channel.close(promise: nil)
            }
            sendHello(on: connection)
        case .outgoing(let index):
            outgoing[index].backoff = initialBackoff
            if let previous = outgoingByMember[hello.member], previous !== connection {
                previous.closing = true
                previous.channel.close(promise: nil)
            }
            outgoingByMember[hello.member] = connection
        }
        refreshShared()
    }
}

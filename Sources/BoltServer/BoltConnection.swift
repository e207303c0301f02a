import BoltCore
import Dispatch
import Foundation
import GraphValues
import Logging
import NIOCore
import TrellisService

/// The database side of one Bolt connection. Database calls block, so everything here runs on the connection's
/// own serial queue, one message at a time and in arrival order; the event loop only hands over de-chunked
/// message bodies (`enqueue`) and writes the encoded replies.
///
/// Replies are encoded straight into one outbound buffer and flushed once per batch of inbound messages (a
/// pipelined RUN+PULL costs one hop to the queue and one write). A PULL streams from the cursor: after each
/// `yieldBytes` of records the buffer is written, and while more than `maxBytesInFlight` are unwritten the PULL
/// pauses until the socket drains, so a huge result is never held whole.
///
/// Locking: `lock` guards the fields shared with the event loop (inbox, flags, in-flight bytes, the session
/// reference used to interrupt); the rest is confined to `queue`.
final class BoltConnection: @unchecked Sendable {
    enum Item {
        /// `receivedNanos`: uptime when de-chunked, for `neo4j.bolt.accumulated_queue_time`.
        case message(ByteBuffer, receivedNanos: UInt64)
        /// A RUN or PULL the event loop already decoded while trying to answer it (`answerOnEventLoop`).
        case decoded(BoltRequest, receivedNanos: UInt64)
        case tooLarge(limitBytes: Int)
    }

    static let yieldBytes = 256 << 10
    static let maxBytesInFlight = 1 << 20
    static let inboxHighWater = 256
    static let inboxLowWater = 32

    let shared: BoltServerShared
    let channel: Channel
    let handler: NIOLoopBound<BoltChannelHandler>
    let queue: DispatchQueue
    let connectionID: String
    let version: BoltVersion
    let viaManifest: Bool
    var logger: Logger

    // Shared with the event loop, under `lock`.
    let lock = NSLock()
    var inbox = CircularBuffer<Item>(initialCapacity: 8)
    var scheduled = false
    var pendingResets = 0
    var executing = false
    var closed = false
    var readPaused = false
    var bytesInFlight = 0
    var waitingForDrain = false
    var interruptTarget: DatabaseSession?
    var authenticated = false

    // Queue-confined.
    var machine: BoltConnectionStateMachine
    var decoder: BoltRequestDecoder
    var encoder: BoltResponseEncoder
    var session: DatabaseSession?
    var results: [Int64: OpenResult] = [:]
    var activePull: PullJob?
    var out: ByteBuffer
    var cleanedUp = false

    final class OpenResult {
        let cursor: ResultCursor
        var lookahead: [Value]?
        init(cursor: ResultCursor) { self.cursor = cursor }
    }

    struct PullJob {
        var key: Int64
        var autoCommit: Bool
        var remaining: Int64
        var discard: Bool
        var startedNanos: UInt64
    }

    init(
        shared: BoltServerShared, channel: Channel, version: BoltVersion, viaManifest: Bool,
        handler: NIOLoopBound<BoltChannelHandler>
    ) {
        self.shared = shared
        self.channel = channel
        self.handler = handler
        self.version = version
        self.viaManifest = viaManifest
        self.connectionID = shared.makeConnectionID()
        self.queue = DispatchQueue(label: "trellis.bolt.\(connectionID)")
        var logger = shared.logger
        logger[metadataKey: "bolt_connection"] = "\(connectionID)"
        self.logger = logger
        self.machine = BoltConnectionStateMachine(version: version)
        self.decoder = BoltRequestDecoder(version: version, maxDepth: shared.configuration.maxNestingDepth)
        self.encoder = BoltResponseEncoder(version: version)
        self.out = channel.allocator.buffer(capacity: 1024)
        shared.liveConnections.add(1, ordering: .relaxed)
    }

    // MARK: - Event loop side

    var isAuthenticated: Bool { lock.withLock { authenticated } }

    /// True while messages are queued or work runs (an idle time-out must not cut a long query).
    var isBusy: Bool { lock.withLock { scheduled } }

    var isBacklogged: Bool { lock.withLock { inbox.count >= Self.inboxHighWater } }

    func enqueue(_ body: ByteBuffer) {
        var interrupt: DatabaseSession?
        let start: Bool = lock.withLock {
            if BoltRequestDecoder.peekTag(body) == 0x0F {
                // RESET jumps ahead: stop the running query now; queued messages before it get IGNORED.
                pendingResets += 1
                if executing { interrupt = interruptTarget }
            }
            inbox.append(.message(body, receivedNanos: DispatchTime.now().uptimeNanoseconds))
            if inbox.count >= Self.inboxHighWater { readPaused = true }
            defer { scheduled = true }
            return !scheduled
        }
        shared.metrics.received.add(1, ordering: .relaxed)
        interrupt?.interrupt()
        let tag = BoltRequestDecoder.peekTag(body)
        startPump(claimed: start, expectsFollower: tag == Self.runTag || tag == Self.beginTag)
    }

    /// `enqueue` for a RUN or PULL that `answerOnEventLoop` decoded but did not answer (never a RESET).
    func enqueue(decoded request: BoltRequest) {
        let start: Bool = lock.withLock {
            inbox.append(.decoded(request, receivedNanos: DispatchTime.now().uptimeNanoseconds))
            if inbox.count >= Self.inboxHighWater { readPaused = true }
            defer { scheduled = true }
            return !scheduled
        }
        shared.metrics.received.add(1, ordering: .relaxed)
        var isRun = false
        if case .run = request { isRun = true }
        startPump(claimed: start, expectsFollower: isRun)
    }

    func enqueueTooLarge(limitBytes: Int) {
        let start: Bool = lock.withLock {
            inbox.append(.tooLarge(limitBytes: limitBytes))
            defer { scheduled = true }
            return !scheduled
        }
        startPump(claimed: start, expectsFollower: false)
    }

    func channelClosed() {
        let target: DatabaseSession? = lock.withLock {
            closed = true
            return executing ? interruptTarget : nil
        }
        // A client that went away mid-query should not keep the database busy.
        target?.interrupt()
        schedule { self.cleanUp() }
    }

    /// Event loop only: set between `beginBatch` and `endBatch`.
    var batching = false
    /// Event loop only: the pump is claimed (`scheduled`) but its start waits for the message that follows a
    /// BEGIN or RUN in the same read, or for `endBatch`.
    var startDeferred = false

    /// Event loop: the handler is about to queue what one socket read brought. While it does, the pump's start is
    /// held back after a BEGIN or a RUN until the next message is queued, so a pipelined RUN + PULL (or BEGIN +
    /// RUN + PULL) is in the inbox before the worker looks at it and leaves as one batch in one write. Otherwise
    /// the worker could answer the RUN, find the inbox empty and flush its SUCCESS alone before the PULL was
    /// queued: one more segment, and one more wake-up of the client, per query (docs/bolt.md "How it runs").
    func beginBatch() {
        batching = true
    }

    /// Event loop: ends `beginBatch`, starting a pump whose start was held back.
    func endBatch() {
        batching = false
        if startDeferred {
            startDeferred = false
            schedule { self.pump() }
        }
    }

    /// Event loop: after queuing a message. `claimed`: the message found the pump idle and claimed it.
    /// `expectsFollower`: a BEGIN or RUN, after which a driver pipelines the next message in the same write.
    func startPump(claimed: Bool, expectsFollower: Bool) {
        guard claimed || startDeferred else { return }
        if batching && expectsFollower {
            startDeferred = true
        } else {
            startDeferred = false
            schedule { self.pump() }
        }
    }

    /// Runs `work` on the connection's queue (or inline, for tests on an `EmbeddedChannel`).
    func schedule(_ work: @escaping @Sendable () -> Void) {
        if shared.inlineExecution {
            work()
        } else {
            queue.async(execute: work)
        }
    }

    // MARK: - Bounded reads on the event loop

    static let runTag: UInt8 = 0x10
    static let beginTag: UInt8 = 0x11
    static let pullTag: UInt8 = 0x3F
    /// Rows a statement answered on the event loop may return; more go the ordinary way.
    static let eventLoopMaxRows = 1_000
    /// Statements remembered as unsuitable by one connection; forgotten all at once beyond this.
    static let unsuitableLimit = 64
    /// Executions of an unsuitable statement that skip the event loop: doubles from the first to the last on
    /// each further failure, and is forgotten on a success.
    static let unsuitableSkips = (first: 8, last: 1024)

    /// A statement that ran out of budget or rows on the event loop: the next `skipsLeft` executions go to the
    /// queue at once. Not forever: the budget is wall-clock time, so on a loaded machine even a point read is
    /// sometimes preempted past it; an expensive statement still costs the loop at most one attempt in `skip`.
    struct Unsuitable {
        var skip: Int
        var skipsLeft: Int
    }

    /// Loop-side state, touched only while `answerOnEventLoop` holds the connection (see there).
    var unsuitableOnEventLoop: [String: Unsuitable] = [:]

    /// Event loop: answers an auto-commit RUN + PULL right here when the connection is idle and the session can
    /// run the statement without waiting: a cached read-only plan without procedure calls or LOAD CSV, no lock
    /// held by another thread, bookmarks already applied, at most `eventLoopMaxRows` rows, and a kernel time-out
    /// of `eventLoopReadBudget` that every read checks (`DatabaseSession.runBoundedRead`). Such a point read costs
    /// a fraction of its hand-over to the worker queue and back (two cross-thread wake-ups per query, ~60 % of
    /// its server CPU: docs/performance.md "Bolt path"). Returns false, having changed nothing, when the pair
    /// must take the ordinary way (`enqueue` both). Like every reader it can still wait for the kernel's own
    /// critical sections (a commit's apply, the page cache's mutex during a fault or a checkpoint flush):
    /// docs/bolt.md "How it runs".
    ///
    /// Why touching queue-confined state here is safe: the connection is claimed by setting `scheduled` while
    /// nothing is queued or running, exactly as `enqueue` does before it schedules the pump, so the pump cannot
    /// start until this returns (only the event loop schedules it, and this runs on the event loop); the lock
    /// orders this thread's accesses after the worker's last ones.
    func answerOnEventLoop(run: ByteBuffer, pull: ByteBuffer) -> EventLoopAnswer {
        guard BoltRequestDecoder.peekTag(pull) == Self.pullTag else { return .declined }
        let claimed: Bool = lock.withLock {
            guard !scheduled, !closed, inbox.isEmpty, pendingResets == 0 else { return false }
            scheduled = true
            return true
        }
        guard claimed else { return .declined }
        defer { lock.withLock { scheduled = false } }
        guard machine.state == .ready, let session,
            let runRequest = try? decoder.decode(run), let pullRequest = try? decoder.decode(pull)
        else { return .declined }
        // From here on the worker gets the decoded requests instead of decoding the bodies a second time.
        guard case .run(let query, let parameters, let options) = runRequest,
            case .pull(let n, let qid) = pullRequest, qid == -1, n == -1 || n > 0
        else { return .decoded(runRequest, pullRequest) }
        if !unsuitableOnEventLoop.isEmpty, var entry = unsuitableOnEventLoop[query] {
            if entry.skipsLeft > 0 {
                entry.skipsLeft -= 1
                unsuitableOnEventLoop[query] = entry
                return .decoded(runRequest, pullRequest)
            }
        }
        let startNanos = DispatchTime.now().uptimeNanoseconds
        let maxRows = n == -1 ? Self.eventLoopMaxRows : Int(min(n, Int64(Self.eventLoopMaxRows)))
        let done: CompletedResult
        let configuration = shared.configuration
        switch session.runBoundedStatement(
            query, parameters: parameters, options: options, maxRows: maxRows,
            budget: configuration.eventLoopReadBudget, reads: configuration.eventLoopReads,
            writes: configuration.eventLoopWrites)
        {
        case .unavailable:
            return .decoded(runRequest, pullRequest)
        case .unsuitable:
            let skip = unsuitableOnEventLoop[query].map { min($0.skip * 2, Self.unsuitableSkips.last) }
                ?? Self.unsuitableSkips.first
            if unsuitableOnEventLoop.count >= Self.unsuitableLimit { unsuitableOnEventLoop.removeAll() }
            unsuitableOnEventLoop[query] = Unsuitable(skip: skip, skipsLeft: skip)
            return .decoded(runRequest, pullRequest)
        case .completed(let result):
            done = result
            if !unsuitableOnEventLoop.isEmpty { unsuitableOnEventLoop[query] = nil }
        }
        let metrics = shared.metrics
        metrics.received.add(2, ordering: .relaxed)
        metrics.started.add(2, ordering: .relaxed)
        // The RUN: the transaction is already committed; answer it as `execute(.run)` would.
        let runAction = machine.received(runRequest)
        guard case .execute(.run) = runAction else {
            preconditionFailure("RUN in READY did not execute: \(runAction)")
        }
        perform(machine.succeeded([
            "fields": .list(done.columns.map { .string($0) }),
            "t_first": .integer(Self.milliseconds(since: startNanos)),
        ]))
        let pullAction = machine.received(pullRequest)
        guard case .execute(.pull) = pullAction else {
            preconditionFailure("PULL after an auto-commit RUN did not execute: \(pullAction)")
        }
        for row in done.rows { encoder.writeRecord(row, to: &out) }
        let job = PullJob(key: -1, autoCommit: true, remaining: 0, discard: false, startedNanos: startNanos)
        perform(machine.succeeded(summaryMetadata(done.summary, job: job), hasMore: false))
        metrics.processingNanos.add(
            Int(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds &- startNanos), ordering: .relaxed)
        metrics.done.add(2, ordering: .relaxed)
        flush()
        return .answered
    }

    /// What `answerOnEventLoop` did with a RUN + PULL.
    enum EventLoopAnswer {
        /// Answered; nothing to enqueue.
        case answered
        /// Not looked at (or not decodable): enqueue both bodies.
        case declined
        /// Decoded but not answered: enqueue these (`enqueue(decoded:)`), in order.
        case decoded(BoltRequest, BoltRequest)
    }

    // MARK: - Queue side

    func pump() {
        while true {
            if activePull != nil {
                guard !isClosed else { return cleanUp() }
                let next: BoltAction?
                do {
                    try checkStillWanted()
                    next = continuePull()
                } catch {
                    next = abandonPull()
                }
                if let action = next {
                    perform(action)
                } else {
                    // Paused until the socket drains; `writeCompleted` resumes the pump.
                    flush()
                    return
                }
                continue
            }
            var item: Item?
            var resets = 0
            var resume = false
            var isClosed = false
            lock.withLock {
                isClosed = closed
                item = inbox.popFirst()
                if item == nil { scheduled = false }
                resets = pendingResets
                if readPaused && inbox.count <= Self.inboxLowWater {
                    readPaused = false
                    resume = true
                }
            }
            if resume {
                let handler = self.handler
                handler.eventLoop.execute { handler.value.resumeReading() }
            }
            guard !isClosed else { return cleanUp() }
            guard let item else {
                flush()
                return
            }
            if resets > 0 { machine.interruptRequested() }
            handle(item)
            if machine.state == .defunct {
                closeChannel()
                return
            }
            if out.readableBytes >= Self.yieldBytes { flush() }
            // A client that sends without reading gets no more replies buffered for it until the socket drains.
            if pauseForDrain() {
                flush()
                return
            }
        }
    }

    /// True (and the pump must return) when too many written bytes are still unsent; `writeCompleted`
    /// resumes the pump once they drain.
    func pauseForDrain() -> Bool {
        lock.withLock {
            guard bytesInFlight > Self.maxBytesInFlight else { return false }
            waitingForDrain = true
            return true
        }
    }

    var isClosed: Bool { lock.withLock { closed } }

    func handle(_ item: Item) {
        switch item {
        case .tooLarge(let limit):
            let error = BoltRequestError(fatal: true, .invalidRequest,
                "Message larger than the limit of \(limit) bytes (dbms.connector.bolt.max_message_size)")
            perform(machine.decodeFailed(error))
        case .message(_, let receivedNanos), .decoded(_, let receivedNanos):
            let startNanos = DispatchTime.now().uptimeNanoseconds
            let metrics = shared.metrics
            metrics.started.add(1, ordering: .relaxed)
            metrics.queueNanos.add(Int(truncatingIfNeeded: startNanos &- receivedNanos), ordering: .relaxed)
            defer {
                metrics.processingNanos.add(
                    Int(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds &- startNanos), ordering: .relaxed)
                metrics.done.add(1, ordering: .relaxed)
            }
            guard case .message(let body, _) = item else {
                guard case .decoded(let request, _) = item else { preconditionFailure("not a message: \(item)") }
                return perform(machine.received(request))
            }
            if BoltRequestDecoder.peekTag(body) == 0x0F {
                lock.withLock { pendingResets = max(0, pendingResets - 1) }
            }
            let action: BoltAction
            do {
                action = machine.received(try decoder.decode(body))
            } catch {
                logger.debug("Bolt message refused", metadata: ["error": "\(error.error)"])
                action = machine.decodeFailed(error)
            }
            perform(action)
        }
    }

    func perform(_ first: BoltAction) {
        var action = first
        while true {
            switch action {
            case .execute(let op):
                guard let next = execute(op) else { return }  // a PULL paused mid-stream
                action = next
            case .sendSuccess(let metadata):
                encoder.writeSuccess(metadata, to: &out)
                return
            case .sendIgnored:
                encoder.writeIgnored(to: &out)
                return
            case .sendFailure(let error):
                shared.metrics.failed.add(1, ordering: .relaxed)
                dropResults()
                encoder.writeFailure(error, to: &out)
                return
            case .sendFailureAndClose(let error):
                shared.metrics.failed.add(1, ordering: .relaxed)
                dropResults()
                encoder.writeFailure(error, to: &out)
                return  // the pump closes once the state is DEFUNCT
            case .close:
                return
            }
        }
    }

    /// Writes what is buffered (one flush per batch).
    func flush() {
        guard out.readableBytes > 0 else { return }
        let buffer = out
        let size = buffer.readableBytes
        out = channel.allocator.buffer(capacity: min(max(1024, size), Self.yieldBytes + 4096))
        lock.withLock { bytesInFlight += size }
        // One hop to the event loop per flush: calling `writeAndFlush` and then `whenComplete` from this queue
        // would each submit a task to the loop (two wake-ups); doing both on the loop costs one.
        let channel = self.channel
        if channel.eventLoop.inEventLoop {
            channel.writeAndFlush(buffer).whenComplete { _ in self.writeCompleted(size) }
        } else {
            channel.eventLoop.execute {
                channel.writeAndFlush(buffer).whenComplete { _ in self.writeCompleted(size) }
            }
        }
    }

    func writeCompleted(_ size: Int) {
        let resume: Bool = lock.withLock {
            bytesInFlight -= size
            guard waitingForDrain, bytesInFlight <= Self.maxBytesInFlight / 4 else { return false }
            waitingForDrain = false
            return true
        }
        if resume { schedule { self.pump() } }
    }

    func closeChannel() {
        flush()
        lock.withLock { closed = true }
        let channel = self.channel
        // Close after the last reply is written (writes are ordered on the channel).
        channel.eventLoop.execute { channel.close(promise: nil) }
        cleanUp()
    }

    func cleanUp() {
        guard !cleanedUp else { return }
        cleanedUp = true
        defer { shared.liveConnections.subtract(1, ordering: .releasing) }
        machine.connectionClosed()
        results = [:]
        activePull = nil
        lock.withLock {
            interruptTarget = nil
            inbox.removeAll()
        }
        if let session {
            session.reset()
            session.close()
        }
        session = nil
    }

    func dropResults() {
        results = [:]
        activePull = nil
    }

    // MARK: - Operations

    func execute(_ op: BoltOperation) -> BoltAction? {
        do {
            switch op {
            case .hello(_, _, let patchUTC, let auth):
                var metadata: [String: Value] = [
                    "server": .string(shared.service.serverAgent),
                    "connection_id": .string(connectionID),
                ]
                var hints: [String: Value] = [:]
                if let seconds = shared.configuration.receiveTimeoutHintSeconds {
                    hints["connection.recv_timeout_seconds"] = .integer(Int64(seconds))
                }
                if version.hasTelemetry && shared.configuration.telemetryEnabled {
                    hints["telemetry.enabled"] = .boolean(true)
                }
                metadata["hints"] = .map(hints)
                if viaManifest {
                    metadata["protocol_version"] = .string(version.description)
                }
                if version.major == 4 && patchUTC {
                    // 4.4 with the utc patch: DateTime travels as the 5.x `I`/`i` structures both ways.
                    let options = PackStreamOptions(elementIds: false, utcDateTime: true)
                    encoder.packStream.options = options
                    decoder.packStream.options = options
                    metadata["patch_bolt"] = .list([.string("utc")])
                }
                if !version.hasLogon {
                    try logOn(auth ?? AuthToken(scheme: "none"))
                }
                return machine.succeeded(metadata)
            case .logon(let token):
                try logOn(token)
                return machine.succeeded([:])
            case .logoff:
                closeSession()
                lock.withLock { authenticated = false }
                return machine.succeeded([:])
            case .route(let context, _, let database, _):
                let table = try shared.service.routingTable(context: context, database: database)
                return machine.succeeded(["rt": Self.routingMetadata(table)])
            case .begin(let options):
                try withExecuting { try currentSession().beginTransaction(options) }
                return machine.succeeded([:])
            case .run(let query, let parameters, let options, let qid):
                let start = DispatchTime.now().uptimeNanoseconds
                let cursor = try withExecuting {
                    try currentSession().run(query, parameters: parameters, options: options)
                }
                results[qid ?? -1] = OpenResult(cursor: cursor)
                return machine.succeeded([
                    "fields": .list(cursor.columns.map { .string($0) }),
                    "t_first": .integer(Self.milliseconds(since: start)),
                ])
            case .pull(let qid, let n), .discard(let qid, let n):
                var discard = false
                if case .discard = op { discard = true }
                activePull = PullJob(key: qid ?? -1, autoCommit: qid == nil, remaining: n, discard: discard,
                    startedNanos: DispatchTime.now().uptimeNanoseconds)
                return continuePull()
            case .commit:
                let bookmark = try withExecuting { try currentSession().commit() }
                results = [:]
                return machine.succeeded(["bookmark": .string(bookmark)])
            case .rollback:
                try withExecuting { try currentSession().rollback() }
                results = [:]
                return machine.succeeded([:])
            case .reset:
                dropResults()
                session?.reset()
                return machine.succeeded([:])
            }
        } catch {
            dropResults()
            return machine.failed(Self.databaseError(error))
        }
    }

    /// Streams records of the active PULL (or skips them for DISCARD). Returns nil when paused for
    /// back-pressure, else the state machine's answer.
    func continuePull() -> BoltAction? {
        guard var job = activePull else { preconditionFailure("continuePull without a PULL") }
        guard let result = results[job.key] else {
            activePull = nil
            return machine.failed(DatabaseError(.invalidRequest, "No open result with qid \(job.key)"))
        }
        do {
            var exhausted = false
            try withExecuting {
                if job.discard && job.remaining == -1 {
                    result.lookahead = nil
                    try result.cursor.discardRemaining()
                    exhausted = true
                    return
                }
                while job.remaining != 0 {
                    let row: [Value]?
                    if let ahead = result.lookahead {
                        row = ahead
                        result.lookahead = nil
                    } else {
                        row = try result.cursor.next()
                    }
                    guard let row else {
                        exhausted = true
                        return
                    }
                    if job.remaining > 0 { job.remaining -= 1 }
                    if !job.discard {
                        encoder.writeRecord(row, to: &out)
                        if out.readableBytes >= Self.yieldBytes {
                            flush()
                            try checkStillWanted()
                            if pauseForDrain() { return }
                        }
                    }
                }
                // n records sent: look one ahead so that an exactly-consumed result ends now, without another PULL.
                if let ahead = try result.cursor.next() {
                    result.lookahead = ahead
                } else {
                    exhausted = true
                }
            }
            if !exhausted && job.remaining != 0 {
                activePull = job
                return nil
            }
            activePull = nil
            guard exhausted else { return machine.succeeded([:], hasMore: true) }
            let summary = try withExecuting { try result.cursor.summary() }
            results[job.key] = nil
            return machine.succeeded(summaryMetadata(summary, job: job), hasMore: false)
        } catch {
            dropResults()
            return machine.failed(Self.databaseError(error))
        }
    }

    /// A long stream stops when a RESET is waiting or the client has gone.
    func checkStillWanted() throws {
        let (resets, gone) = lock.withLock { (pendingResets, closed) }
        if resets > 0 || gone {
            throw DatabaseError(.transactionTerminated, "The result stream was interrupted by RESET.")
        }
    }

    /// Ends a paused PULL whose client sent RESET (or left) meanwhile.
    func abandonPull() -> BoltAction {
        dropResults()
        return machine.failed(DatabaseError(.transactionTerminated, "The result stream was interrupted by RESET."))
    }

    func summaryMetadata(_ summary: ResultSummary, job: PullJob) -> [String: Value] {
        var m: [String: Value] = [
            "type": .string(summary.queryType.rawValue),
            "t_last": .integer(Self.milliseconds(since: job.startedNanos)),
            "db": .string(summary.database),
        ]
        if job.autoCommit, let bookmark = summary.bookmark {
            m["bookmark"] = .string(bookmark)
        }
        let stats = summary.statistics
        if stats.containsUpdates || stats.systemUpdates > 0 {
            var map: [String: Value] = [:]
            for (name, count) in stats.nonZeroCounters {
                map[name] = .integer(Int64(count))
            }
            if stats.containsUpdates { map["contains-updates"] = .boolean(true) }
            if stats.systemUpdates > 0 { map["contains-system-updates"] = .boolean(true) }
            m["stats"] = .map(map)
        }
        if let plan = summary.plan { m["plan"] = Self.planMetadata(plan) }
        if let profile = summary.profile { m["profile"] = Self.planMetadata(profile) }
        if !summary.notifications.isEmpty {
            m["notifications"] = .list(summary.notifications.map { n in
                .map([
                    "code": .string(n.code), "title": .string(n.title), "description": .string(n.description),
                    "severity": .string(n.severity),
                ])
            })
        }
        return m
    }

    static func planMetadata(_ plan: PlanDescription) -> Value {
        var m: [String: Value] = [
            "operatorType": .string(plan.operatorType),
            "identifiers": .list(plan.identifiers.map { .string($0) }),
            "args": .map(plan.arguments),
            "children": .list(plan.children.map(planMetadata)),
        ]
        if let rows = plan.rows { m["rows"] = .integer(rows) }
        if let hits = plan.dbHits { m["dbHits"] = .integer(hits) }
        return .map(m)
    }

    static func routingMetadata(_ table: RoutingTable) -> Value {
        var servers: [Value] = []
        for (role, addresses) in [("ROUTE", table.routers), ("READ", table.readers), ("WRITE", table.writers)]
        where !addresses.isEmpty {
            servers.append(.map(["addresses": .list(addresses.map { .string($0) }), "role": .string(role)]))
        }
        return .map([
            "ttl": .integer(Int64(table.ttlSeconds)), "db": .string(table.database), "servers": .list(servers),
        ])
    }

    func logOn(_ token: AuthToken) throws {
        let user = try shared.service.authenticate(
            scheme: token.scheme, principal: token.principal, credentials: token.credentials)
        closeSession()
        let session = shared.service.openSession(user: user)
        self.session = session
        lock.withLock {
            interruptTarget = session
            authenticated = true
        }
    }

    func closeSession() {
        results = [:]
        activePull = nil
        lock.withLock { interruptTarget = nil }
        session?.close()
        session = nil
    }

    func currentSession() throws -> DatabaseSession {
        guard let session else { throw DatabaseError(.unauthorized, "Not authenticated") }
        return session
    }

    /// Marks a database call as running, so that a RESET or a disconnect can interrupt it.
    func withExecuting<T>(_ body: () throws -> T) throws -> T {
        lock.withLock { executing = true }
        defer { lock.withLock { executing = false } }
        return try body()
    }

    static func milliseconds(since startNanos: UInt64) -> Int64 {
        Int64((DispatchTime.now().uptimeNanoseconds &- startNanos) / 1_000_000)
    }

    static func databaseError(_ error: Error) -> DatabaseError {
        if let e = error as? DatabaseError { return e }
        return DatabaseError(.unknownError, "\(error)")
    }
}

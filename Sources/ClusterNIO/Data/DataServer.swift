#if canImport(Glibc)
import Glibc
#endif
import ClusterCore
import Dispatch
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The data port of a data member (`ha.host.data`): serves pulls, transaction stamps, pushes, store copies and (on
/// the master) forwarded transactions. Wire protocol and guarantees: docs/clustering-design.md, "Data port".
///
/// Requests are decoded on the event loop and executed on a dispatch queue (they block on the database), so a slow
/// request does not hold up the others on the same connection.
public final class DataServer: Sendable {
    private let core: DataServerCore
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)

    public init(
        database: GraphDatabase, group: any EventLoopGroup, logger: Logger,
        forwarded: (any ForwardedTransactionHandler)?, maxFrameBytes: Int = 64 << 20,
        pullResponseBytes: Int = 4 << 20, traffic: DataPortTraffic = DataPortTraffic(),
        storeCopyStallTimeout: Duration = DataServer.defaultStoreCopyStallTimeout
    ) {
        precondition(maxFrameBytes >= 1 << 16, "maxFrameBytes must be at least 64 KiB")
        precondition(storeCopyStallTimeout > .zero, "storeCopyStallTimeout must be positive")
        self.core = DataServerCore(
            database: database, logger: logger, forwarded: forwarded, maxFrameBytes: maxFrameBytes,
            pullResponseBytes: min(pullResponseBytes, maxFrameBytes / 2), traffic: traffic,
            storeCopyStallTimeout: storeCopyStallTimeout)
        self.group = group
        self.logger = logger
    }

    /// How long a store copy waits for its receiver to take one queued chunk (a few MiB) before it closes the
    /// connection and gives the copy up: a receiver that stops reading but keeps the connection open would
    /// otherwise hold the log pinned and the store files open until TCP gives up (about 15 minutes).
    public static let defaultStoreCopyStallTimeout: Duration = .seconds(60)

    /// Binds `host:port` (port 0: an ephemeral port, see `boundPort`) and returns once listening.
    public func start(host: String, port: Int) async throws {
        let core = self.core
        core.removeStaleStagingDirectories()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(DataFrameDecoder(maxFrameBytes: core.maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(DataServerHandler(core: core))
                }
            }
        let bound = try await bootstrap.bind(host: host, port: port).get()
        channel.withLock { $0 = bound }
        logger.info("Data port listening", metadata: ["address": "\(bound.localAddress.map { "\($0)" } ?? "?")"])
    }

    /// The port actually bound (0 before `start`).
    public var boundPort: Int { channel.withLock { $0?.localAddress?.port ?? 0 } }

    /// Stops listening. Open connections are closed.
    public func stop() async {
        let bound = channel.withLock { value -> (any Channel)? in
            defer { value = nil }
            return value
        }
        try? await bound?.close()
        core.closeAllConnections()
    }

    /// The epoch this member follows and whether it is its master. Pushes and forwarded transactions carrying an
    /// older epoch are refused (fencing a deposed master); forwarded transactions need `isMaster`.
    public func setEpoch(_ epoch: Epoch, isMaster: Bool) {
        core.setEpoch(epoch, isMaster: isMaster)
    }

    /// The epoch currently followed.
    public var epoch: Epoch { core.fencing.withLock { $0.epoch } }
}

// MARK: - Work

/// Everything a request needs, shared by all connections.
final class DataServerCore: Sendable {
    let database: GraphDatabase
    let logger: Logger
    let forwarded: (any ForwardedTransactionHandler)?
    let maxFrameBytes: Int
    let pullResponseBytes: Int
    let traffic: DataPortTraffic
    let storeCopyStallTimeout: Duration
    let fencing = Mutex<(epoch: Epoch, isMaster: Bool)>((Epoch.zero, false))
    let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// Blocking work: database calls, forwarded statements, store copies. Concurrent, so one slow forwarded
    /// transaction waiting for a lock does not stall pulls.
    let queue = DispatchQueue(label: "trellis.data-port", attributes: .concurrent)

    init(
        database: GraphDatabase, logger: Logger, forwarded: (any ForwardedTransactionHandler)?, maxFrameBytes: Int,
        pullResponseBytes: Int, traffic: DataPortTraffic, storeCopyStallTimeout: Duration
    ) {
        self.storeCopyStallTimeout = storeCopyStallTimeout
        self.database = database
        self.traffic = traffic
        self.logger = logger
        self.forwarded = forwarded
        self.maxFrameBytes = maxFrameBytes
        self.pullResponseBytes = pullResponseBytes
    }

    /// Store copies interrupted by a crash leave their staging directories behind; nothing else uses them.
    func removeStaleStagingDirectories() {
        let root = database.directory + "/temp-copy"
        let manager = FileManager.default
        for name in (try? manager.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix("outgoing-") {
            try? manager.removeItem(atPath: root + "/" + name)
        }
    }

    func setEpoch(_ epoch: Epoch, isMaster: Bool) {
        fencing.withLock { $0 = (epoch, isMaster) }
    }

    func closeAllConnections() {
        let all = connections.withLock { value -> [any Channel] in
            defer { value = [:] }
            return Array(value.values)
        }
        for channel in all { channel.close(promise: nil) }
    }

    /// Refuses requests from an epoch older than ours; a newer epoch is adopted (we learn of a new master through
    /// its first push before coordination tells us, and a master that sees a newer epoch is no longer master).
    func checkEpoch(_ sent: Epoch) throws {
        try fencing.withLock { state in
            if sent < state.epoch { throw DataPortError.staleEpoch(sent: sent, known: state.epoch) }
            if sent > state.epoch { state = (sent, false) }
        }
    }

    // MARK: Requests

    func pull(from: TxID, limit: Int, allocator: ByteBufferAllocator, requestID: UInt64) throws -> ByteBuffer {
        guard from.rawValue >= 1, limit >= 1 else {
            throw DatabaseError(.invalidRequest, "Pull from \(from) with limit \(limit) is not a valid request")
        }
        let cursor = try database.committedTransactions(from: from)
        var transactions: [CommittedTransaction] = []
        var bytes = 0
        let frameRoom = maxFrameBytes - 1024
        while transactions.count < limit, bytes < pullResponseBytes, let next = try cursor.next() {
            let size = next.payload.count + 48
            if bytes + size > frameRoom {
                guard transactions.isEmpty else { break }
                throw DatabaseError(
                    .transactionCommitFailed,
                    "\(next.header.txID) is \(next.payload.count) bytes, more than the data port's frame limit of "
                        + "\(maxFrameBytes) bytes (raise it on both members)")
            }
            transactions.append(next)
            bytes += size
        }
        let last = database.lastCommittedTxID
        let frame = DataWire.frame(allocator, .transactions, requestID: requestID, capacity: bytes + 16) { body in
            body.writeInteger(last.rawValue)
            body.writeInteger(UInt32(transactions.count))
            for transaction in transactions { body.writeTransaction(transaction) }
        }
        traffic.masterTransactionBytes.add(frame.readableBytes, ordering: .relaxed)
        return frame
    }

    func stamp(at txID: TxID, allocator: ByteBufferAllocator, requestID: UInt64) throws -> ByteBuffer {
        let header = try database.transactionHeader(at: txID)
        let last = database.lastCommittedTxID
        return DataWire.frame(allocator, .stampReply, requestID: requestID) { body in
            body.writeInteger(last.rawValue)
            if let header {
                body.writeInteger(UInt8(1))
                body.writeMultipleIntegers(header.txID.rawValue, header.epoch, header.masterServerID, header.checksum)
            } else {
                body.writeInteger(UInt8(0))
            }
        }
    }

    /// Applies pushed transactions in order. Ones we already have are acknowledged when their checksum matches ours
    /// (pushes may overlap pulls and each other), refused as a diverged chain when it does not.
    func push(epoch: Epoch, _ transactions: [CommittedTransaction], allocator: ByteBufferAllocator, requestID: UInt64)
        throws -> ByteBuffer
    {
        try checkEpoch(epoch)
        try ReplicatedApply.apply(transactions, to: database)
        let last = database.lastCommittedTxID
        return DataWire.frame(allocator, .pushAck, requestID: requestID) { $0.writeInteger(last.rawValue) }
    }

    func storeInfo(allocator: ByteBufferAllocator, requestID: UInt64) -> ByteBuffer {
        let (epoch, isMaster) = fencing.withLock { $0 }
        let storeID = database.storeID
        let last = database.lastCommittedTxID
        return DataWire.frame(allocator, .storeInfoReply, requestID: requestID) { body in
            body.writeMultipleIntegers(storeID.random, storeID.creationTimeMillis, last.rawValue, epoch.rawValue)
            body.writeInteger(UInt8(isMaster ? 1 : 0))
        }
    }

    /// Streams a store copy straight from the live store files (`GraphDatabase.openStoreCopySource()`): commits
    /// pause only for a checkpoint and for opening the files, then every file goes out as a `fileStart` frame, its
    /// raw bytes (sent by the kernel from the file with sendfile, in regions of `storeCopyChunkBytes`, a few queued
    /// at a time; the receiver's backpressure slows the sender through TCP) and a `fileEnd` frame. The connection
    /// carries nothing else (`DataServerHandler` refuses a store copy that is not the first request on its
    /// connection and closes one that sends anything after it), so the raw bodies cannot interleave with replies.
    func streamStoreCopy(to channel: any Channel, requestID: UInt64) throws {
        // The checkpoint can take a while on a big store: keep the client's inactivity timer from firing.
        let keepalive = channel.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(1)) { _ in
            channel.writeAndFlush(
                DataWire.frame(channel.allocator, .storeCopyPreparing, requestID: requestID) { _ in }, promise: nil)
        }
        let source: StoreCopySource
        do {
            source = try database.openStoreCopySource()
            keepalive.cancel()
        } catch {
            keepalive.cancel()
            throw error
        }
        defer { source.close() }
        let stallDuration = storeCopyStallTimeout
        let stallTimeout = TimeAmount(stallDuration)
        let logger = self.logger
        /// Waits for a queued write. A receiver that takes none of it within the stall time-out gets its connection
        /// closed: that fails this write and every queued one, so the copy ends, the files close and the log is
        /// unpinned instead of waiting for TCP to give up.
        func waitBounded(_ write: EventLoopFuture<Void>) throws {
            let timer = channel.eventLoop.scheduleTask(in: stallTimeout) {
                logger.warning(
                    "Abandoned a store copy: the receiver took no data for the stall time-out",
                    metadata: [
                        "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")",
                        "timeout": "\(stallDuration)",
                    ])
                channel.close(promise: nil)
            }
            defer { timer.cancel() }
            try write.wait()
        }
        var inFlight: [EventLoopFuture<Void>] = []
        defer {
            // Never return (and close the files) with chunks still queued; failures are reported by the last wait.
            for write in inFlight { _ = try? waitBounded(write) }
        }
        func send(_ data: IOData) throws -> EventLoopFuture<Void> {
            if inFlight.count >= DataWire.storeCopyChunksInFlight { try waitBounded(inFlight.removeFirst()) }
            let write = channel.writeAndFlush(data)
            inFlight.append(write)
            return write
        }
        let allocator = channel.allocator
        /// `fileStart` frame, the raw body, `fileEnd` frame. The body goes from the file to the socket with
        /// sendfile(2) (NIO's file regions) on a duplicate of the descriptor opened in the commit pause, so no byte
        /// passes through user memory; files without a descriptor (simulated ones) are read into buffers instead.
        func sendFile(_ file: StoreCopySource.File) throws {
            let size = UInt64(file.size)
            _ = try send(
                .byteBuffer(
                    DataWire.frame(allocator, .fileStart, requestID: requestID) { body in
                        body.writeWireString(file.name)
                        body.writeInteger(size)
                    }))
            if size > 0, let descriptor = file.handle.descriptor {
                let duplicate = dup(descriptor)
                guard duplicate >= 0 else {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "Cannot duplicate the descriptor of \(file.name): \(String(cString: strerror(errno)))")
                }
                let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: duplicate)
                var sent: UInt64 = 0
                var last: EventLoopFuture<Void>?
                do {
                    while sent < size {
                        let count = min(UInt64(DataWire.storeCopyChunkBytes), size - sent)
                        let region = FileRegion(
                            fileHandle: handle, readerIndex: Int(sent), endIndex: Int(sent + count))
                        last = try send(.fileRegion(region))
                        sent += count
                        traffic.masterStoreBytes.add(Int(count), ordering: .relaxed)
                    }
                } catch {
                    // Queued regions still use the handle: close it once they are done (they fail with the
                    // connection).
                    if let last { last.whenComplete { _ in try? handle.close() } } else { try? handle.close() }
                    throw error
                }
                // Every region of this file is queued; the descriptor closes when the last one has been sent (or
                // failed: a failed write fails every later one too).
                last!.whenComplete { _ in try? handle.close() }
            } else {
                var sent: UInt64 = 0
                while sent < size {
                    let want = Int(min(UInt64(DataWire.storeCopyChunkBytes), size - sent))
                    let offset = Int64(sent)
                    var buffer = allocator.buffer(capacity: want)
                    var filled = 0
                    while filled < want {
                        let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want - filled) { raw in
                            try file.handle.read(
                                at: offset + Int64(filled),
                                into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(want - filled)]))
                        }
                        guard got > 0 else {
                            // Mid-body an error frame would be read as body bytes: the receiver learns of the
                            // failure from the closed connection (a truncated file).
                            channel.close(promise: nil)
                            throw DatabaseError(
                                .storageDamageDetected,
                                "\(file.name) ended at byte \(offset + Int64(filled)) of \(size)")
                        }
                        filled += got
                    }
                    _ = try send(.byteBuffer(buffer))
                    sent += UInt64(want)
                    traffic.masterStoreBytes.add(want, ordering: .relaxed)
                }
            }
            _ = try send(
                .byteBuffer(
                    DataWire.frame(allocator, .fileEnd, requestID: requestID) { body in
                        body.writeWireString(file.name)
                        body.writeInteger(size)
                    }))
        }
        for file in source.storeFiles where file.name != "neostore" { try sendFile(file) }
        // The log after every store file was read: it must hold every transaction those reads could have seen.
        let (logFiles, lastTxID) = try source.logFiles()
        for file in logFiles { try sendFile(file) }
        // The metadata last, as the receiver installs it.
        for file in source.storeFiles where file.name == "neostore" { try sendFile(file) }
        let count = source.storeFiles.count + logFiles.count
        _ = try send(
            .byteBuffer(
                DataWire.frame(allocator, .storeCopyEnd, requestID: requestID) { body in
                    body.writeInteger(lastTxID.rawValue)
                    body.writeInteger(UInt32(count))
                }))
        for write in inFlight { try waitBounded(write) }
        inFlight = []
        logger.info(
            "Served a store copy",
            metadata: [
                "checkpointTxID": "\(source.checkpointTxID.rawValue)", "txID": "\(lastTxID.rawValue)",
                "files": "\(count)",
            ])
    }

    // MARK: Forwarded transactions

    func forwardedHandler() throws -> any ForwardedTransactionHandler {
        guard let forwarded else {
            throw DatabaseError(.databaseUnavailable, "This member does not accept forwarded transactions")
        }
        return forwarded
    }

    /// Forwarded transactions need this member to be master, of exactly `epoch` when the slave named one.
    func checkMaster(_ epoch: Epoch?) throws {
        try fencing.withLock { state in
            if let epoch, epoch < state.epoch { throw DataPortError.staleEpoch(sent: epoch, known: state.epoch) }
            guard state.isMaster, epoch == nil || epoch == state.epoch else { throw DataPortError.notMaster }
        }
    }
}

// MARK: - Connection handler

/// Transactions a connection has open on the forwarded-transaction handler, rolled back if it drops.
final class OpenForwardedTransactions: Sendable {
    let ids = Mutex<Set<UInt64>>([])
}

final class DataServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = DataFrame
    typealias OutboundOut = ByteBuffer

    private let core: DataServerCore
    private let open = OpenForwardedTransactions()
    /// Pushes on one connection apply in arrival order (the master sends them in commit order as far as it can);
    /// everything else runs concurrently.
    private let pushQueue = DispatchQueue(label: "trellis.data-port.push")
    /// Requests seen on this connection, and whether one was a store copy: its raw file bodies share the byte stream
    /// with nothing else, so it must be the first request and the last.
    private var requestsSeen = 0
    private var servingStoreCopy = false

    init(core: DataServerCore) {
        self.core = core
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        core.connections.withLock { $0[ObjectIdentifier(channel)] = channel }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let channel = context.channel
        core.connections.withLock { $0[ObjectIdentifier(channel)] = nil }
        let orphans = open.ids.withLock { ids -> Set<UInt64> in
            defer { ids = [] }
            return ids
        }
        if !orphans.isEmpty, let handler = core.forwarded {
            let logger = core.logger
            core.queue.async {
                for id in orphans.sorted() {
                    do {
                        try handler.rollback(id)
                    } catch {
                        logger.warning(
                            "Rolling back a forwarded transaction of a closed connection failed",
                            metadata: ["tx": "\(id)", "error": "\(error)"])
                    }
                }
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Undecodable framing: say why, then close (the stream cannot be resynchronised). A peer that just went
        // away (reset, EOF) is routine during failover and only worth a debug line.
        if error is DataPortError {
            core.logger.warning("Data port connection failed", metadata: ["error": "\(error)"])
        } else {
            core.logger.debug("Data port connection failed", metadata: ["error": "\(error)"])
        }
        let frame = DataWire.frame(context.channel.allocator, .error, requestID: 0) { body in
            DataWireError.encode(error, into: &body)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let channel = context.channel
        guard frame.version == DataWire.version else {
            let error = DataPortError.protocolViolation(
                "unsupported data port protocol version \(frame.version) (this member speaks \(DataWire.version))")
            let reply = DataWire.frame(channel.allocator, .error, requestID: frame.requestID) { body in
                DataWireError.encode(error, into: &body)
            }
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        if servingStoreCopy {
            // An error frame now could land inside a raw file body: just close.
            core.logger.warning(
                "Data port connection sent a request after a store copy request; closing it",
                metadata: ["kind": "\(frame.kind)"])
            context.close(promise: nil)
            return
        }
        requestsSeen += 1
        if frame.kind == DataWire.Kind.storeCopy.rawValue {
            guard requestsSeen == 1 else {
                let error = DataPortError.protocolViolation(
                    "a store copy must be the first request on a connection of its own")
                let reply = DataWire.frame(channel.allocator, .error, requestID: frame.requestID) { body in
                    DataWireError.encode(error, into: &body)
                }
                context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            servingStoreCopy = true
        }
        let core = self.core
        let open = self.open
        let queue = frame.kind == DataWire.Kind.push.rawValue ? pushQueue : core.queue
        queue.async {
            let reply: ByteBuffer?
            do {
                reply = try Self.execute(frame, core: core, open: open, channel: channel)
            } catch {
                reply = DataWire.frame(channel.allocator, .error, requestID: frame.requestID) { body in
                    DataWireError.encode(error, into: &body)
                }
            }
            if let reply { channel.writeAndFlush(reply, promise: nil) }
        }
    }

    /// Runs one request on a worker thread; returns the reply frame (nil when the reply was streamed).
    private static func execute(
        _ frame: DataFrame, core: DataServerCore, open: OpenForwardedTransactions, channel: any Channel
    ) throws -> ByteBuffer? {
        var body = frame.body
        let id = frame.requestID
        let allocator = channel.allocator
        guard let kind = DataWire.Kind(rawValue: frame.kind) else {
            throw DataPortError.protocolViolation("unknown request kind \(frame.kind)")
        }
        switch kind {
        case .pull:
            let from = try body.readWireInteger(as: Int64.self)
            let limit = try body.readWireInteger(as: UInt32.self)
            try body.expectEnd("a pull request")
            return try core.pull(from: TxID(from), limit: Int(min(limit, 100_000)), allocator: allocator, requestID: id)
        case .stamp:
            let tx = try body.readWireInteger(as: Int64.self)
            try body.expectEnd("a stamp request")
            return try core.stamp(at: TxID(tx), allocator: allocator, requestID: id)
        case .push:
            let epoch = Epoch(try body.readWireInteger(as: UInt64.self))
            let count = try body.readWireInteger(as: UInt32.self)
            var transactions: [CommittedTransaction] = []
            for _ in 0..<count {
                let transaction = try body.readTransaction()
                guard transaction.hasValidChecksum else {
                    throw TransactionLogError.checksumMismatch(txID: transaction.header.txID)
                }
                transactions.append(transaction)
            }
            try body.expectEnd("a push")
            return try core.push(epoch: epoch, transactions, allocator: allocator, requestID: id)
        case .storeInfo:
            try body.expectEnd("a store info request")
            return core.storeInfo(allocator: allocator, requestID: id)
        case .storeCopy:
            try body.expectEnd("a store copy request")
            try core.streamStoreCopy(to: channel, requestID: id)
            return nil
        case .forwardBegin:
            let rawEpoch = try body.readWireInteger(as: UInt64.self)
            let epoch = rawEpoch == DataWire.anyEpoch ? nil : Epoch(rawEpoch)
            let user = try body.readWireString()
            let metadata = try body.readWireMap()
            let timeoutMillis = try body.readWireInteger(as: Int64.self)
            try body.expectEnd("a forwarded begin")
            try core.checkMaster(epoch)
            let handler = try core.forwardedHandler()
            let tx = try handler.begin(
                user: user, metadata: metadata, timeout: timeoutMillis >= 0 ? .milliseconds(timeoutMillis) : nil)
            open.ids.withLock { _ = $0.insert(tx) }
            return DataWire.frame(allocator, .forwardBegun, requestID: id) { $0.writeInteger(tx) }
        case .forwardRun:
            let tx = try body.readWireInteger(as: UInt64.self)
            let query = try body.readWireString()
            let parameters = try body.readWireMap()
            try body.expectEnd("a forwarded statement")
            let result = try core.forwardedHandler().run(tx, query: query, parameters: parameters)
            return DataWire.frame(allocator, .forwardResult, requestID: id, capacity: 256) { body in
                body.writeWireValue(.list(result.keys.map { .string($0) }))
                body.writeWireValue(.list(result.rows.map { .list($0) }))
                body.writeWireValue(.map(result.statistics.mapValues { .integer($0) }))
            }
        case .forwardCommit:
            let tx = try body.readWireInteger(as: UInt64.self)
            try body.expectEnd("a forwarded commit")
            // Whatever the outcome, the transaction is over on the master.
            defer { open.ids.withLock { _ = $0.remove(tx) } }
            let last = try core.forwardedHandler().commit(tx)
            return DataWire.frame(allocator, .forwardCommitted, requestID: id) { $0.writeInteger(last) }
        case .forwardRollback:
            let tx = try body.readWireInteger(as: UInt64.self)
            try body.expectEnd("a forwarded rollback")
            defer { open.ids.withLock { _ = $0.remove(tx) } }
            try core.forwardedHandler().rollback(tx)
            return DataWire.frame(allocator, .forwardRolledBack, requestID: id) { _ in }
        default:
            throw DataPortError.protocolViolation("\(kind) is a response, not a request")
        }
    }
}

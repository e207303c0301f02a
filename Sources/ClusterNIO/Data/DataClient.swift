import ClusterCore
import Glibc
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One connection to one member's data port. Requests may be issued concurrently; they are multiplexed over the
/// connection by request id. The connection is made on first use and remade after it drops (requests in flight
/// when it drops fail with `DataPortError.unavailable`; retrying is the caller's decision).
public final class DataClient: Sendable {
    public let address: String
    private let group: any EventLoopGroup
    private let logger: Logger
    private let requestTimeout: Duration
    private let maxFrameBytes: Int
    private let traffic: DataPortTraffic
    private let state = Mutex<ClientState>(ClientState())

    private struct ClientState {
        var connecting: EventLoopFuture<any Channel>?
        var nextRequestID: UInt64 = 1
        var closed = false
        /// Store copies in progress (each on a connection of its own), aborted by `close()`.
        var copies: [ObjectIdentifier: StoreCopyReceiver.Connection] = [:]
    }

    /// - Parameters:
    ///   - address: the member's `ha.host.data`, "host:port".
    ///   - requestTimeout: how long a request waits for its answer (`ha.slave_read_timeout`); for a store copy,
    ///     the longest pause between two of its frames.
    public init(
        address: String, group: any EventLoopGroup, logger: Logger, requestTimeout: Duration = .seconds(20),
        maxFrameBytes: Int = 64 << 20, traffic: DataPortTraffic = DataPortTraffic()
    ) {
        self.address = address
        self.traffic = traffic
        self.group = group
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.maxFrameBytes = maxFrameBytes
    }

    // MARK: Operations

    /// Committed transactions from `from` on, at most `limit` of them and about 4 MiB (at least one when there is
    /// any): fewer than asked does not mean the end of the log, pull again from the next id. Throws
    /// `TransactionLogError.transactionsNotAvailable` when the member pruned them (the caller needs a store copy).
    public func pullTransactions(from: TxID, limit: Int) async throws -> [CommittedTransaction] {
        try await pull(from: from, limit: limit).transactions
    }

    /// Like `pullTransactions`, also returning the member's last committed tx id when it answered.
    public func pull(from: TxID, limit: Int) async throws -> (transactions: [CommittedTransaction], lastCommitted: TxID) {
        precondition(limit >= 1, "pull limit must be positive")
        var body = try await request(.pull) { body in
            body.writeInteger(from.rawValue)
            body.writeInteger(UInt32(min(limit, Int(UInt32.max))))
        }
        let last = try body.readWireInteger(as: Int64.self)
        let count = try body.readWireInteger(as: UInt32.self)
        var transactions: [CommittedTransaction] = []
        transactions.reserveCapacity(Int(min(count, 10_000)))
        for index in 0..<Int64(count) {
            let transaction = try body.readTransaction()
            guard transaction.header.txID.rawValue == from.rawValue + index else {
                throw DataPortError.protocolViolation(
                    "pull from \(from) returned \(transaction.header.txID) at position \(index)")
            }
            transactions.append(transaction)
        }
        try body.expectEnd("a pull response")
        return (transactions, TxID(last))
    }

    /// The member's stamp (epoch, master, checksum) of transaction `at`, or nil when it does not have it (beyond its
    /// last transaction, or pruned): the master's side of `BranchDetector.compare`.
    public func transactionStamp(at txID: TxID) async throws -> TransactionStamp? {
        try await stampAndLast(at: txID).stamp
    }

    /// The stamp at `txID` and the member's last committed tx id, in one round trip (everything
    /// `BranchDetector.compare` needs from the master).
    public func stampAndLast(at txID: TxID) async throws -> (stamp: TransactionStamp?, lastCommitted: TxID) {
        var body = try await request(.stamp) { $0.writeInteger(txID.rawValue) }
        let last = try body.readWireInteger(as: Int64.self)
        let present = try body.readWireInteger(as: UInt8.self)
        guard present == 1 else {
            try body.expectEnd("a stamp reply")
            return (nil, TxID(last))
        }
        guard let (id, epoch, master, checksum) = body.readMultipleIntegers(as: (Int64, Int64, Int32, UInt64).self)
        else { throw DataPortError.protocolViolation("stamp reply ends inside its fields") }
        try body.expectEnd("a stamp reply")
        let header = TransactionHeader(
            txID: TxID(id), previousChecksum: 0, checksum: checksum, commitTimestampMillis: 0,
            masterServerID: master, epoch: epoch)
        return (TransactionStamp(header: header), TxID(last))
    }

    /// The member's store id, last committed tx and epoch.
    public func storeInfo() async throws -> DataStoreInfo {
        var body = try await request(.storeInfo) { _ in }
        guard
            let (random, created, last, epoch, master) = body.readMultipleIntegers(
                as: (UInt64, Int64, Int64, UInt64, UInt8).self)
        else { throw DataPortError.protocolViolation("store info reply ends inside its fields") }
        try body.expectEnd("a store info reply")
        return DataStoreInfo(
            storeID: StoreID(random: random, creationTimeMillis: created), lastCommittedTxID: TxID(last),
            epoch: Epoch(epoch), isMaster: master == 1)
    }

    /// Pushes one transaction; returns once it is durable (and applied) on the member, with the member's last
    /// committed tx id. Refused with `DataPortError.staleEpoch` when the member follows a newer epoch, with
    /// `TransactionLogError.gap` when it misses earlier transactions (see `push(_:epoch:catchingUpFrom:)`), and
    /// with `.checksumChainBroken` when its history differs (branched).
    @discardableResult
    public func push(_ transaction: CommittedTransaction, epoch: Epoch) async throws -> TxID {
        try await push([transaction], epoch: epoch)
    }

    /// Pushes consecutive transactions in one request (applied in order; ones the member already has are skipped).
    @discardableResult
    public func push(_ transactions: [CommittedTransaction], epoch: Epoch) async throws -> TxID {
        var body = try await request(.push) { body in
            body.writeInteger(epoch.rawValue)
            body.writeInteger(UInt32(transactions.count))
            for transaction in transactions { body.writeTransaction(transaction) }
        }
        let last = try body.readWireInteger(as: Int64.self)
        try body.expectEnd("a push acknowledgement")
        return TxID(last)
    }

    /// Pushes `transaction`; if the member misses earlier ones (concurrent commits reach the commit hook in any
    /// order, or the member fell behind), sends the missing ones from `database`'s log with it, in batches of at
    /// most `batchLimit` transactions.
    @discardableResult
    public func push(
        _ transaction: CommittedTransaction, epoch: Epoch, catchingUpFrom database: GraphDatabase,
        batchLimit: Int = 100
    ) async throws -> TxID {
        do {
            return try await push(transaction, epoch: epoch)
        } catch TransactionLogError.gap(let expected, let received) where expected < received {
            var next = expected
            var last = TxID(expected.rawValue - 1)
            while next <= transaction.header.txID {
                let cursor = try database.committedTransactions(from: next)
                var batch: [CommittedTransaction] = []
                while batch.count < batchLimit, let item = try cursor.next(), item.header.txID <= transaction.header.txID {
                    batch.append(item)
                }
                guard let end = batch.last?.header.txID else { break }
                last = try await push(batch, epoch: epoch)
                next = TxID(end.rawValue + 1)
            }
            return last
        }
    }

    /// Copies the member's whole store into `directory` (which must not hold a store: move a branched one away
    /// first) and returns the last tx id the copy contains. The files are received into
    /// `<directory>/temp-copy/incoming-…`, fsynced, then renamed into place with the metadata file last, so an
    /// interrupted copy never opens as a store (its leftovers are cleared by the next attempt).
    ///
    /// The copy uses a blocking connection of its own on a dedicated thread (`StoreCopyReceiver`: raw file bodies
    /// spliced from the socket into the files), not this client's multiplexed connection; `close()` aborts it.
    public func copyStore(into directory: String) async throws -> TxID {
        let manager = FileManager.default
        try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let existing = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        if existing.contains("neostore") {
            throw DatabaseError(.invalidRequest, "Cannot copy a store into \(directory): it already holds one")
        }
        // Leftovers of an interrupted copy (store files without metadata).
        for name in existing where name.hasPrefix("neostore") {
            try manager.removeItem(atPath: directory + "/" + name)
        }
        let staging = directory + "/temp-copy/incoming-\(UInt32.random(in: 0...UInt32.max))"
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? manager.removeItem(atPath: staging) }

        guard let (host, port) = Self.split(address) else {
            throw DataPortError.unavailable("'\(address)' is not host:port")
        }
        let syncer = BackgroundSyncer()
        defer { try? syncer.wait() }
        let (names, copiedTx) = try await receiveOnOwnThread(host: host, port: port, staging: staging, syncer: syncer)
        try syncer.wait()
        try fsyncDirectory(staging)
        // Into place, metadata last: only a complete copy has it.
        for name in names.filter({ $0 != "neostore" }) + ["neostore"] {
            try manager.moveItem(atPath: staging + "/" + name, toPath: directory + "/" + name)
        }
        try fsyncDirectory(directory)
        logger.info(
            "Copied store", metadata: ["from": "\(address)", "txID": "\(copiedTx.rawValue)", "files": "\(names.count)"])
        return copiedTx
    }

    /// Runs the blocking receiver on a thread of its own (a copy takes seconds to minutes: not a job for the
    /// concurrency pool's threads), registered so that `close()` can abort it.
    private func receiveOnOwnThread(host: String, port: Int, staging: String, syncer: BackgroundSyncer) async throws
        -> (names: [String], lastTxID: TxID)
    {
        let address = self.address
        let timeout = requestTimeout
        let maxFrameBytes = self.maxFrameBytes
        let traffic = self.traffic
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let result = Result<(names: [String], lastTxID: TxID), Error> {
                    let receiver = try StoreCopyReceiver(
                        address: address, host: host, port: port, timeout: timeout, maxFrameBytes: maxFrameBytes)
                    let abort = receiver.abortHandle
                    let key = ObjectIdentifier(abort)
                    let closed = self.state.withLock { state -> Bool in
                        if !state.closed { state.copies[key] = abort }
                        return state.closed
                    }
                    defer { _ = self.state.withLock { $0.copies.removeValue(forKey: key) } }
                    if closed { throw DataPortError.unavailable("the client for \(address) is closed") }
                    traffic.requestSent(.storeCopy, bytes: 18)
                    return try receiver.receiveStore(into: staging, syncer: syncer)
                }
                continuation.resume(with: result)
            }
            thread.name = "trellis.store-copy"
            thread.start()
        }
    }

    /// Begins a forwarded write transaction on the master; `epoch` is the epoch the caller believes the member is
    /// master of (refused with `DataPortError.notMaster` or `.staleEpoch` when it is not). With nil, any member that
    /// is currently master accepts.
    public func forwardBegin(
        user: String, metadata: [String: Value], timeout: Duration?, epoch: Epoch? = nil
    ) async throws -> UInt64 {
        var body = try await request(.forwardBegin) { body in
            body.writeInteger(epoch?.rawValue ?? DataWire.anyEpoch)
            body.writeWireString(user)
            body.writeWireValue(.map(metadata))
            let millis = timeout.map { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
            body.writeInteger(millis ?? -1)
        }
        let tx = try body.readWireInteger(as: UInt64.self)
        try body.expectEnd("a forwarded begin reply")
        return tx
    }

    /// Runs one statement in a forwarded transaction.
    public func forwardRun(_ tx: UInt64, query: String, parameters: [String: Value]) async throws -> ForwardedResult {
        var body = try await request(.forwardRun) { body in
            body.writeInteger(tx)
            body.writeWireString(query)
            body.writeWireValue(.map(parameters))
        }
        guard case .list(let keyValues) = try body.readWireValue(), case .list(let rowValues) = try body.readWireValue(),
            case .map(let statValues) = try body.readWireValue()
        else { throw DataPortError.protocolViolation("malformed forwarded result") }
        try body.expectEnd("a forwarded result")
        let keys = try keyValues.map { value -> String in
            guard case .string(let key) = value else { throw DataPortError.protocolViolation("non-string key") }
            return key
        }
        let rows = try rowValues.map { value -> [Value] in
            guard case .list(let row) = value else { throw DataPortError.protocolViolation("non-list row") }
            return row
        }
        let statistics = try statValues.mapValues { value -> Int64 in
            guard case .integer(let count) = value else { throw DataPortError.protocolViolation("non-integer count") }
            return count
        }
        return ForwardedResult(keys: keys, rows: rows, statistics: statistics)
    }

    /// Commits a forwarded transaction; returns the master's last committed tx id after the commit.
    public func forwardCommit(_ tx: UInt64) async throws -> UInt64 {
        var body = try await request(.forwardCommit) { $0.writeInteger(tx) }
        let last = try body.readWireInteger(as: UInt64.self)
        try body.expectEnd("a forwarded commit reply")
        return last
    }

    /// Rolls back a forwarded transaction.
    public func forwardRollback(_ tx: UInt64) async throws {
        let body = try await request(.forwardRollback) { $0.writeInteger(tx) }
        var copy = body
        try copy.expectEnd("a forwarded rollback reply")
    }

    /// Closes the connection; later requests fail.
    public func close() async {
        let (connecting, copies) = state.withLock {
            state -> (EventLoopFuture<any Channel>?, [StoreCopyReceiver.Connection]) in
            state.closed = true
            defer { state.connecting = nil }
            return (state.connecting, Array(state.copies.values))
        }
        for copy in copies { copy.shutdown() }
        if let channel = try? await connecting?.get() { try? await channel.close() }
    }

    // MARK: Plumbing

    static func isStoreFileName(_ name: String) -> Bool {
        name.hasPrefix("neostore") && name.count <= 255 && !name.contains("/") && !name.contains("\0")
    }

    private func channel() async throws -> any Channel {
        let future: EventLoopFuture<any Channel> = try state.withLock { state in
            if state.closed { throw DataPortError.unavailable("the client for \(address) is closed") }
            if let connecting = state.connecting { return connecting }
            let connecting = connect()
            state.connecting = connecting
            return connecting
        }
        do {
            let channel = try await future.get()
            if channel.isActive { return channel }
        } catch {
            forget(future)
            throw DataPortError.unavailable("cannot connect to \(address): \(error)")
        }
        // The connection dropped since: make a new one (once).
        forget(future)
        return try await self.channelOnce()
    }

    private func channelOnce() async throws -> any Channel {
        let future: EventLoopFuture<any Channel> = try state.withLock { state in
            if state.closed { throw DataPortError.unavailable("the client for \(address) is closed") }
            if let connecting = state.connecting { return connecting }
            let connecting = connect()
            state.connecting = connecting
            return connecting
        }
        do {
            return try await future.get()
        } catch {
            forget(future)
            throw DataPortError.unavailable("cannot connect to \(address): \(error)")
        }
    }

    private func forget(_ future: EventLoopFuture<any Channel>) {
        state.withLock { state in
            if state.connecting === future { state.connecting = nil }
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let loop = group.next()
        guard let (host, port) = Self.split(address) else {
            return loop.makeFailedFuture(DataPortError.unavailable("'\(address)' is not host:port"))
        }
        let maxFrameBytes = self.maxFrameBytes
        let timeout = TimeAmount.nanoseconds(
            requestTimeout.components.seconds * 1_000_000_000 + requestTimeout.components.attoseconds / 1_000_000_000)
        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(DataFrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(DataClientHandler(timeout: timeout))
                }
            }
            .connect(host: host, port: port)
    }

    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    private func nextRequestID() -> UInt64 {
        state.withLock { state in
            defer { state.nextRequestID &+= 1 }
            return state.nextRequestID
        }
    }

    /// Sends a request and returns the body of its single response frame (an error frame is thrown).
    private func request(_ kind: DataWire.Kind, _ body: (inout ByteBuffer) -> Void) async throws -> ByteBuffer {
        let channel = try await channel()
        let id = nextRequestID()
        let frame = DataWire.frame(channel.allocator, kind, requestID: id, body)
        traffic.requestSent(kind, bytes: frame.readableBytes)
        let promise = channel.eventLoop.makePromise(of: DataFrame.self)
        // A write that never reaches the handler (the pipeline is torn down after a close) must still fail the
        // request rather than leave it waiting forever; failing an already-failed promise is ignored.
        channel.writeAndFlush(DataClientRequest(id: id, frame: frame, sink: .single(promise))).whenFailure {
            promise.fail(DataPortError.unavailable("cannot send to \(self.address): \($0)"))
        }
        let response = try await promise.futureResult.get()
        return response.body
    }

}

// MARK: - Client handler

/// Where the answer to a request goes.
enum DataResponseSink: Sendable {
    case single(EventLoopPromise<DataFrame>)

    func fail(_ error: Error) {
        switch self {
        case .single(let promise): promise.fail(error)
        }
    }
}

struct DataClientRequest: Sendable {
    var id: UInt64
    var frame: ByteBuffer
    var sink: DataResponseSink
}

/// Matches response frames to requests by id, on the channel's event loop. Every request has a timer: a single
/// answer must arrive within the timeout.
final class DataClientHandler: ChannelDuplexHandler {
    typealias InboundIn = DataFrame
    typealias OutboundIn = DataClientRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var sink: DataResponseSink
        var timer: Scheduled<Void>?
    }

    private let timeout: TimeAmount
    private var pending: [UInt64: Pending] = [:]
    private var failure: Error?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.sink.fail(failure)
            promise?.fail(failure)
            return
        }
        pending[request.id] = Pending(sink: request.sink, timer: schedule(request.id, context: context))
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    private func schedule(_ id: UInt64, context: ChannelHandlerContext) -> Scheduled<Void> {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timeout = self.timeout
        return context.eventLoop.scheduleTask(in: timeout) {
            let (handler, _) = loopBound.value
            guard let entry = handler.pending.removeValue(forKey: id) else { return }
            entry.sink.fail(DataPortError.unavailable("no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.version == DataWire.version else {
            failAll(DataPortError.protocolViolation("peer speaks data port version \(frame.version)"))
            context.close(promise: nil)
            return
        }
        if frame.requestID == 0, frame.kind == DataWire.Kind.error.rawValue {
            // A connection-level error: the peer closes after it.
            failAll(DataWireError.decode(frame.body))
            return
        }
        guard let entry = pending.removeValue(forKey: frame.requestID) else { return }  // timed out meanwhile
        entry.timer?.cancel()
        let isError = frame.kind == DataWire.Kind.error.rawValue
        switch entry.sink {
        case .single(let promise):
            if isError { promise.fail(DataWireError.decode(frame.body)) } else { promise.succeed(frame) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(DataPortError.unavailable("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error is DataPortError ? error : DataPortError.unavailable("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        if failure == nil { failure = error }
        let all = pending
        pending = [:]
        for (_, entry) in all {
            entry.timer?.cancel()
            entry.sink.fail(error)
        }
    }
}

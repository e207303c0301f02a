import BoltCore
import ClusterCore
import GraphKernel
import GraphValues
import NIOCore

// MARK: - Public types

/// Failures of the data port itself (everything the remote database says arrives as the `DatabaseError` or
/// `TransactionLogError` it threw there).
public enum DataPortError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A push or forwarded transaction carried an epoch older than the one this member knows: the sender is a
    /// deposed master (fencing).
    case staleEpoch(sent: Epoch, known: Epoch)
    /// Forwarded transactions go to the master; this member is not it (or lost its lease).
    case notMaster
    /// The connection could not be made, was closed, or the peer did not answer in time.
    case unavailable(String)
    /// The peer sent something this protocol version does not allow.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .staleEpoch(let sent, let known):
            return "Refused a request from \(sent): this member already follows \(known) (a newer master exists)"
        case .notMaster: return "This member is not the master; transactions must be forwarded to the master"
        case .unavailable(let why): return "Data port unavailable: \(why)"
        case .protocolViolation(let why): return "Data port protocol violation: \(why)"
        }
    }

    /// The client-visible form: all transient, so drivers retry (the cluster is switching or a peer is down).
    public var databaseError: DatabaseError {
        switch self {
        case .protocolViolation: return DatabaseError(.invalidFormat, description)
        default: return DatabaseError(.databaseUnavailable, description)
        }
    }
}

/// What a member says about its store: identity and progress (store id check before pulling, neo4j-ha.md §5).
public struct DataStoreInfo: Sendable, Hashable {
    public var storeID: StoreID
    public var lastCommittedTxID: TxID
    /// The epoch the member's data server currently follows, and whether it is the master of it.
    public var epoch: Epoch
    public var isMaster: Bool

    public init(storeID: StoreID, lastCommittedTxID: TxID, epoch: Epoch, isMaster: Bool) {
        self.storeID = storeID
        self.lastCommittedTxID = lastCommittedTxID
        self.epoch = epoch
        self.isMaster = isMaster
    }
}

extension TransactionStamp {
    /// The stamp of a logged transaction: its id, the epoch and server id of the master that committed it, and its
    /// checksum.
    public init(header: TransactionHeader) {
        self.init(
            tx: LogPosition(lastCommittedTx: UInt64(max(0, header.txID.rawValue))),
            epoch: Epoch(UInt64(max(0, header.epoch))), master: MemberID(Int(header.masterServerID)),
            checksum: header.checksum)
    }
}

// MARK: - Frames

/// Frame layout (all integers big-endian): `u32 length` (of everything after it) · `u8 version` · `u8 kind` ·
/// `u64 request id` · body. Requests and responses share the request id, so one connection carries many requests
/// at once. The store copy is the exception: it takes a connection of its own, and its answer is a sequence of
/// `fileStart` frame · the file's raw bytes (exactly the announced length, unframed, so the sender can hand them to
/// sendfile and the receiver to splice) · `fileEnd` frame, then `storeCopyEnd`.
enum DataWire {
    /// 2: store copies send raw file bodies between `fileStart` and `fileEnd` (1 framed them as `fileChunk`s).
    static let version: UInt8 = 2
    /// version + kind + request id.
    static let envelopeBytes = 10
    /// Bounds every frame (and so every allocation driven by a length the peer sent).
    static let defaultMaxFrameBytes = 64 << 20
    /// Bytes of transactions per pull response (at least one transaction is always sent).
    static let defaultPullResponseBytes = 4 << 20
    /// Store copy bodies are queued on the connection in regions of this size (sendfile moves them; each is one
    /// unit of the sender's stall time-out).
    static let storeCopyChunkBytes = 4 << 20
    /// Regions a store copy sender keeps queued on the connection before waiting for the oldest to be written.
    static let storeCopyChunksInFlight = 4
    /// A forwarded begin without an expected epoch: whichever the master is in.
    static let anyEpoch = UInt64.max

    enum Kind: UInt8 {
        // Requests.
        case pull = 0x01
        case stamp = 0x02
        case push = 0x03
        case storeCopy = 0x04
        case forwardBegin = 0x05
        case forwardRun = 0x06
        case forwardCommit = 0x07
        case forwardRollback = 0x08
        case storeInfo = 0x09
        // Responses.
        case transactions = 0x81
        case stampReply = 0x82
        case pushAck = 0x83
        case fileStart = 0x84
        /// Follows a file's raw body: its name and length again, so a body of the wrong length cannot go unnoticed.
        case fileEnd = 0x85
        case storeCopyEnd = 0x86
        case forwardBegun = 0x87
        case forwardResult = 0x88
        case forwardCommitted = 0x89
        case forwardRolledBack = 0x8A
        case storeInfoReply = 0x8B
        /// Sent every second while the master checkpoints before a store copy (keepalive).
        case storeCopyPreparing = 0x8C
        case error = 0xFF
    }

    /// Builds one frame: the body is written by `body`, the length filled in afterwards.
    static func frame(
        _ allocator: ByteBufferAllocator, _ kind: Kind, requestID: UInt64, capacity: Int = 64,
        _ body: (inout ByteBuffer) throws -> Void
    ) rethrows -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity + 14)
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(version)
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(requestID)
        try body(&buffer)
        buffer.setInteger(UInt32(buffer.readableBytes - 4), at: buffer.readerIndex)
        return buffer
    }

    static let packOptions = PackStreamOptions(elementIds: true, utcDateTime: true)
    static let packEncoder = PackStreamEncoder(options: packOptions)
    /// Results may hold nodes, relationships and paths.
    static let packDecoder = PackStreamDecoder(options: packOptions, maxDepth: 64, allowGraphStructures: true)
}

/// One decoded frame.
struct DataFrame: Sendable {
    var version: UInt8
    var kind: UInt8
    var requestID: UInt64
    var body: ByteBuffer
}

/// Cuts the byte stream into frames. An impossible length (shorter than the envelope or over the limit) is a
/// protocol violation: the decoder throws and the handler answers with an error frame and closes.
struct DataFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = DataFrame
    let maxFrameBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length >= DataWire.envelopeBytes, Int(length) <= maxFrameBytes else {
            throw DataPortError.protocolViolation(
                "frame length \(length) outside \(DataWire.envelopeBytes)...\(maxFrameBytes)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let (version, kind, requestID) = buffer.readMultipleIntegers(as: (UInt8, UInt8, UInt64).self)!
        let body = buffer.readSlice(length: Int(length) - DataWire.envelopeBytes)!
        context.fireChannelRead(wrapInboundOut(DataFrame(version: version, kind: kind, requestID: requestID, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

// MARK: - Body fields

extension ByteBuffer {
    mutating func writeWireString(_ string: String) {
        let utf8 = Array(string.utf8)
        writeInteger(UInt32(utf8.count))
        writeBytes(utf8)
    }

    mutating func readWireString() throws -> String {
        let bytes = try readWireBytes()
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    mutating func readWireBytes() throws -> [UInt8] {
        let count = try readWireInteger(as: UInt32.self)
        guard let bytes = readBytes(length: Int(count)) else {
            throw DataPortError.protocolViolation("field of \(count) bytes runs past the end of its frame")
        }
        return bytes
    }

    mutating func readWireInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws -> T {
        guard let value = readInteger(as: T.self) else {
            throw DataPortError.protocolViolation("frame ends inside a \(T.self) field")
        }
        return value
    }

    mutating func writeTransaction(_ transaction: CommittedTransaction) {
        let header = transaction.header
        writeMultipleIntegers(
            header.txID.rawValue, header.previousChecksum, header.checksum, header.commitTimestampMillis,
            header.masterServerID, header.epoch)
        writeWireBytes(transaction.payload)
    }

    mutating func readTransaction() throws -> CommittedTransaction {
        guard
            let (txID, previous, checksum, millis, master, epoch) = readMultipleIntegers(
                as: (Int64, UInt64, UInt64, Int64, Int32, Int64).self)
        else { throw DataPortError.protocolViolation("frame ends inside a transaction header") }
        let payload = try readWireBytes()
        return CommittedTransaction(
            header: TransactionHeader(
                txID: TxID(txID), previousChecksum: previous, checksum: checksum, commitTimestampMillis: millis,
                masterServerID: master, epoch: epoch),
            payload: payload)
    }

    mutating func writeWireValue(_ value: Value) {
        DataWire.packEncoder.write(value, to: &self)
    }

    mutating func readWireValue() throws -> Value {
        do {
            return try DataWire.packDecoder.readValue(from: &self)
        } catch let error as PackStreamError {
            throw DataPortError.protocolViolation("bad PackStream value: \(error)")
        }
    }

    mutating func readWireMap() throws -> [String: Value] {
        guard case .map(let map) = try readWireValue() else {
            throw DataPortError.protocolViolation("expected a map")
        }
        return map
    }

    mutating func expectEnd(_ what: String) throws {
        guard readableBytes == 0 else {
            throw DataPortError.protocolViolation("\(readableBytes) unexpected bytes after \(what)")
        }
    }
}

// MARK: - Errors on the wire

/// Error frame body: `u8 kind` · `string code` · `string message` · kind-specific integers. Kinds keep the errors
/// the caller must tell apart (gap, diverged chain, pruned log, stale epoch) typed across the wire; everything else
/// travels as a `DatabaseError` with its Neo4j status code.
enum DataWireError {
    static func encode(_ error: Error, into buffer: inout ByteBuffer) {
        func common(_ kind: UInt8, _ dbError: DatabaseError) {
            buffer.writeInteger(kind)
            buffer.writeWireString(dbError.code.rawValue)
            buffer.writeWireString(dbError.message)
        }
        switch error {
        case let log as TransactionLogError:
            switch log {
            case .gap(let expected, let received):
                common(1, log.databaseError)
                buffer.writeMultipleIntegers(expected.rawValue, received.rawValue)
            case .checksumChainBroken(let txID, let expectedPrevious, let receivedPrevious):
                common(2, log.databaseError)
                buffer.writeMultipleIntegers(txID.rawValue, expectedPrevious, receivedPrevious)
            case .checksumMismatch(let txID):
                common(3, log.databaseError)
                buffer.writeInteger(txID.rawValue)
            case .transactionsNotAvailable(let requested, let oldest):
                common(4, log.databaseError)
                buffer.writeMultipleIntegers(requested.rawValue, oldest.rawValue)
            }
        case let port as DataPortError:
            switch port {
            case .staleEpoch(let sent, let known):
                common(5, port.databaseError)
                buffer.writeMultipleIntegers(sent.rawValue, known.rawValue)
            case .notMaster:
                common(6, port.databaseError)
            case .unavailable, .protocolViolation:
                common(0, port.databaseError)
            }
        case let db as DatabaseError:
            common(0, db)
        default:
            common(0, DatabaseError(.unknownError, "\(error)"))
        }
    }

    /// The error the remote side threw, rebuilt.
    static func decode(_ body: ByteBuffer) -> Error {
        var body = body
        do {
            let kind = try body.readWireInteger(as: UInt8.self)
            let code = try body.readWireString()
            let message = try body.readWireString()
            switch kind {
            case 1:
                let (expected, received) = try ints(&body, (Int64, Int64).self)
                return TransactionLogError.gap(expected: TxID(expected), received: TxID(received))
            case 2:
                let (txID, expected, received) = try ints(&body, (Int64, UInt64, UInt64).self)
                return TransactionLogError.checksumChainBroken(
                    txID: TxID(txID), expectedPrevious: expected, receivedPrevious: received)
            case 3:
                return TransactionLogError.checksumMismatch(txID: TxID(try body.readWireInteger(as: Int64.self)))
            case 4:
                let (requested, oldest) = try ints(&body, (Int64, Int64).self)
                return TransactionLogError.transactionsNotAvailable(
                    requested: TxID(requested), oldestAvailable: TxID(oldest))
            case 5:
                let (sent, known) = try ints(&body, (UInt64, UInt64).self)
                return DataPortError.staleEpoch(sent: Epoch(sent), known: Epoch(known))
            case 6:
                return DataPortError.notMaster
            default:
                return DatabaseError(StatusCode(code), message)
            }
        } catch {
            return DataPortError.protocolViolation("unreadable error frame: \(error)")
        }
    }

    private static func ints<T>(_ body: inout ByteBuffer, _ type: T.Type) throws -> T {
        switch type {
        case is (Int64, Int64).Type:
            guard let v = body.readMultipleIntegers(as: (Int64, Int64).self) else { break }
            return v as! T
        case is (UInt64, UInt64).Type:
            guard let v = body.readMultipleIntegers(as: (UInt64, UInt64).self) else { break }
            return v as! T
        case is (Int64, UInt64, UInt64).Type:
            guard let v = body.readMultipleIntegers(as: (Int64, UInt64, UInt64).self) else { break }
            return v as! T
        default:
            preconditionFailure("unsupported error field layout \(type)")
        }
        throw DataPortError.protocolViolation("error frame ends inside its fields")
    }
}

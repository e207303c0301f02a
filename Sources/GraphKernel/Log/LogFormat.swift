import GraphValues

/// The on-disk format of `neostore.transaction.db.N` files. All integers little-endian.
///
/// File header, 64 bytes:
/// ```
///  0  magic "TRLSTXLG"           8
///  8  format version (UInt32)     4    currently 1; a newer version is refused
/// 12  reserved, zero              4
/// 16  store id (UInt64)           8    a log of another store is refused
/// 24  log version N (Int64)       8    equals the file name's suffix
/// 32  first tx id (Int64)         8    id of the first transaction this file may hold (previous file's last + 1)
/// 40  previous checksum (UInt64)  8    checksum of the transaction before `first tx id` (chain across files)
/// 48  previous commit time (ms)   8    commit time of that transaction (age-based retention reads it from here)
/// 56  header hash (UInt64)        8    XXH64 of bytes 0..<56
/// ```
/// Entry frame: `[length L: UInt32][kind: UInt8][body: L bytes][frame hash: UInt64 = XXH64(bytes 0..<5+L)]`.
/// Transaction body (kind 1): `[previous checksum 8][checksum 8][tx id 8][commit ms 8][master server id 4]
/// [epoch 8][payload]`; the checksum is XXH64 of body bytes 16..<L seeded with the previous checksum, so it chains.
/// Checkpoint body (kind 2): `[last applied tx id 8][checkpoint time ms 8]`.
///
/// A file's entries end at the first all-zero frame header (or at the end of the file): the active file is kept
/// zero-filled ahead of its last entry (`dbms.tx_log.preallocate`), so its size says nothing about where the entries
/// end. The format did not change for this (still version 1): files without a zero region read as before, and an
/// older reader stops at the zeros as at any invalid tail (rotated files are cut to their last entry).
enum LogFormat {
    static let fileNamePrefix = "neostore.transaction.db."
    static let magic: UInt64 = 0x474C_5854_534C_5254  // "TRLSTXLG" read as little-endian
    static let formatVersion: UInt32 = 1
    static let headerSize = 64
    static let frameOverhead = 13
    static let frameHashSeed: UInt64 = 0x5452_454C_4C49_5346
    static let transactionHeaderSize = 44
    static let checkpointBodySize = 16
    /// Bound on one entry (TIGER_STYLE "put a limit on everything"); a larger length field is garbage.
    static let maxBodySize = 1 << 30

    enum Kind: UInt8 {
        case transaction = 1
        case checkpoint = 2
    }

    static func fileName(version: Int64) -> String { fileNamePrefix + String(version) }

    /// The version of a log file name, or nil for other files.
    static func version(ofFileName name: String) -> Int64? {
        guard name.hasPrefix(fileNamePrefix) else { return nil }
        let suffix = name.dropFirst(fileNamePrefix.count)
        guard !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(suffix)
    }

    struct FileHeader: Equatable {
        var storeID: UInt64
        var version: Int64
        var firstTxID: Int64
        var previousChecksum: UInt64
        var previousCommitMillis: Int64
        var formatVersion: UInt32 = LogFormat.formatVersion
    }

    static func encode(_ header: FileHeader) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize)
        bytes.logAppendLE(magic)
        bytes.logAppendLE(header.formatVersion)
        bytes.logAppendLE(UInt32(0))
        bytes.logAppendLE(header.storeID)
        bytes.logAppendLE(header.version)
        bytes.logAppendLE(header.firstTxID)
        bytes.logAppendLE(header.previousChecksum)
        bytes.logAppendLE(header.previousCommitMillis)
        bytes.logAppendLE(XXHash64.hash(bytes))
        precondition(bytes.count == headerSize, "log header is \(bytes.count) bytes")
        return bytes
    }

    enum HeaderDecoding: Equatable {
        case valid(FileHeader)
        /// Shorter than a header, all zero, or a hash mismatch with the right magic: a crash while creating the file.
        case torn
        /// Not a Trellis log file at all.
        case notALog
        /// Written by a newer Trellis.
        case newerFormat(UInt32)
    }

    static func decodeHeader(_ bytes: [UInt8]) -> HeaderDecoding {
        if bytes.count < headerSize { return .torn }
        if bytes.allSatisfy({ $0 == 0 }) { return .torn }
        if bytes.logLoadLE(UInt64.self, at: 0) != magic { return .notALog }
        let stored = bytes.logLoadLE(UInt64.self, at: 56)
        if XXHash64.hash(bytes[0..<56]) != stored { return .torn }
        let format = bytes.logLoadLE(UInt32.self, at: 8)
        if format > formatVersion { return .newerFormat(format) }
        return .valid(
            FileHeader(
                storeID: bytes.logLoadLE(UInt64.self, at: 16),
                version: bytes.logLoadLE(Int64.self, at: 24),
                firstTxID: bytes.logLoadLE(Int64.self, at: 32),
                previousChecksum: bytes.logLoadLE(UInt64.self, at: 40),
                previousCommitMillis: bytes.logLoadLE(Int64.self, at: 48),
                formatVersion: format))
    }

    /// The checksum of a transaction: XXH64 over (tx id, commit time, master, epoch, payload), seeded with the
    /// previous transaction's checksum.
    static func checksum(
        txID: Int64, commitMillis: Int64, masterServerID: Int32, epoch: Int64, payload: [UInt8], previous: UInt64
    ) -> UInt64 {
        var fields: [UInt8] = []
        fields.reserveCapacity(28 + payload.count)
        fields.logAppendLE(txID)
        fields.logAppendLE(commitMillis)
        fields.logAppendLE(masterServerID)
        fields.logAppendLE(epoch)
        fields.append(contentsOf: payload)
        return XXHash64.hash(fields, seed: previous)
    }

    static func encodeTransaction(_ header: TransactionHeader, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        let bodyLength = transactionHeaderSize + payload.count
        frame.reserveCapacity(frameOverhead + bodyLength)
        frame.logAppendLE(UInt32(bodyLength))
        frame.append(Kind.transaction.rawValue)
        frame.logAppendLE(header.previousChecksum)
        frame.logAppendLE(header.checksum)
        frame.logAppendLE(header.txID.rawValue)
        frame.logAppendLE(header.commitTimestampMillis)
        frame.logAppendLE(header.masterServerID)
        frame.logAppendLE(header.epoch)
        frame.append(contentsOf: payload)
        frame.logAppendLE(XXHash64.hash(frame, seed: frameHashSeed))
        return frame
    }

    static func encodeCheckpoint(lastAppliedTxID: Int64, timeMillis: Int64) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(frameOverhead + checkpointBodySize)
        frame.logAppendLE(UInt32(checkpointBodySize))
        frame.append(Kind.checkpoint.rawValue)
        frame.logAppendLE(lastAppliedTxID)
        frame.logAppendLE(timeMillis)
        frame.logAppendLE(XXHash64.hash(frame, seed: frameHashSeed))
        return frame
    }

    /// Decodes a transaction body (the bytes between kind and frame hash).
    static func decodeTransaction(body: ArraySlice<UInt8>) -> CommittedTransaction {
        let base = body.startIndex
        let header = TransactionHeader(
            txID: TxID(body.logLoadLE(Int64.self, at: base + 16)),
            previousChecksum: body.logLoadLE(UInt64.self, at: base),
            checksum: body.logLoadLE(UInt64.self, at: base + 8),
            commitTimestampMillis: body.logLoadLE(Int64.self, at: base + 24),
            masterServerID: body.logLoadLE(Int32.self, at: base + 32),
            epoch: body.logLoadLE(Int64.self, at: base + 36))
        return CommittedTransaction(header: header, payload: Array(body[(base + transactionHeaderSize)...]))
    }
}

// MARK: - Reading frames

/// A buffered sequential reader over one log file that tolerates the file growing underneath it (the active file).
final class LogFileScanner {
    let file: LogFile
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    private static let chunkSize = 256 << 10

    init(file: LogFile) { self.file = file }

    /// Up to `count` bytes at `offset`; fewer only at end of file.
    func bytes(at offset: Int64, count: Int) throws -> ArraySlice<UInt8> {
        let bufferEnd = bufferStart + Int64(buffer.count)
        if offset >= bufferStart && offset + Int64(count) <= bufferEnd {
            let start = Int(offset - bufferStart)
            return buffer[start..<(start + count)]
        }
        buffer = try file.read(at: offset, count: max(count, Self.chunkSize))
        bufferStart = offset
        return buffer[0..<min(count, buffer.count)]
    }
}

enum FrameReadResult {
    case frame(kind: LogFormat.Kind, body: ArraySlice<UInt8>, frameLength: Int64)
    /// The end of the file, or the start of its zero-filled (preallocated) region.
    case endOfFile
    /// Fewer bytes than the frame needs: a write cut short by a crash.
    case incomplete
    /// The length or kind field is not plausible: garbage (a torn or zero-filled tail) or damage.
    case invalidFrameHeader
    /// Complete frame whose hash does not match.
    case hashMismatch(frameLength: Int64)
}

extension LogFileScanner {
    func readFrame(at offset: Int64) throws -> FrameReadResult {
        let prefix = try bytes(at: offset, count: 5)
        if prefix.isEmpty { return .endOfFile }
        if prefix.count < 5 { return .incomplete }
        // No entry has length 0 and kind 0: an all-zero frame header is the free space of a preallocated file, and
        // the entries of the file end here whatever its size.
        if prefix.allSatisfy({ $0 == 0 }) { return .endOfFile }
        let bodyLength = Int(prefix.logLoadLE(UInt32.self, at: prefix.startIndex))
        guard let kind = LogFormat.Kind(rawValue: prefix[prefix.startIndex + 4]) else { return .invalidFrameHeader }
        switch kind {
        case .transaction:
            guard bodyLength >= LogFormat.transactionHeaderSize && bodyLength <= LogFormat.maxBodySize else {
                return .invalidFrameHeader
            }
        case .checkpoint:
            guard bodyLength == LogFormat.checkpointBodySize else { return .invalidFrameHeader }
        }
        let frameLength = LogFormat.frameOverhead + bodyLength
        let frame = try bytes(at: offset, count: frameLength)
        if frame.count < frameLength { return .incomplete }
        let hashAt = frame.startIndex + 5 + bodyLength
        let stored = frame.logLoadLE(UInt64.self, at: hashAt)
        if XXHash64.hash(frame[frame.startIndex..<hashAt], seed: LogFormat.frameHashSeed) != stored {
            return .hashMismatch(frameLength: Int64(frameLength))
        }
        return .frame(kind: kind, body: frame[(frame.startIndex + 5)..<hashAt], frameLength: Int64(frameLength))
    }
}

// MARK: - Little-endian helpers

extension Array where Element == UInt8 {
    @inline(__always) mutating func logAppendLE<T: FixedWidthInteger>(_ value: T) {
        var remaining = value.littleEndian
        for _ in 0..<MemoryLayout<T>.size {
            append(UInt8(truncatingIfNeeded: remaining))
            remaining >>= 8
        }
    }
}

extension Collection where Element == UInt8, Index == Int {
    /// Reads a little-endian integer at absolute index `at`.
    @inline(__always) func logLoadLE<T: FixedWidthInteger>(_: T.Type, at index: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(truncatingIfNeeded: self[index + i]) << (8 * i)
        }
        return value
    }
}

import GraphValues

/// One fixed-size record file accessed through the page cache, with its id generator.
///
/// Id generator: `highID` is the first never-used id; `freeIDs` are ids of deleted records, reused first
/// (lowest-last stack). Ids freed by a transaction are released only after that transaction is applied, so no
/// one can reuse a record that is still visible. The generator is saved to `<file>.id` at checkpoints, stamped
/// with the checkpoint's tx id; when the stamp does not match on open (crash, recovery), it is rebuilt by scanning
/// the records (as Neo4j 3.x rebuilds id files after an unclean shutdown).
final class RecordStore: @unchecked Sendable {
    let kind: StoreKind
    let recordSize: Int
    let recordsPerPage: Int
    let paged: PagedFile
    let cache: PageCache
    let fileSystem: StorageFileSystem
    let idFilePath: String

    private let idMutex = KernelMutex()
    private var _highID: Int64 = 0
    private var freeIDs: [Int64] = []

    init(kind: StoreKind, directory: String, cache: PageCache, fileSystem: StorageFileSystem) throws {
        self.kind = kind
        self.recordSize = kind.recordSize
        self.recordsPerPage = PageCache.pageSizeBytes / kind.recordSize
        self.cache = cache
        self.fileSystem = fileSystem
        let path = directory + "/" + kind.fileName
        self.idFilePath = path + ".id"
        let file = try fileSystem.open(path, create: true)
        self.paged = cache.register(path: path, file: file)
    }

    var highID: Int64 { idMutex.withLock { _highID } }

    /// Ids handed out and not free for reuse (Neo4j's "number of ids in use").
    var idsInUse: Int64 { idMutex.withLock { _highID - Int64(freeIDs.count) } }

    // MARK: Record access

    /// A negative record id can only come from a damaged record (or a bug): an error the operator can act on
    /// (`trellis admin check-consistency`), not a crash of the whole server.
    static func negativeID(_ kind: StoreKind, _ id: Int64) -> DatabaseError {
        DatabaseError(
            .storageDamageDetected, "A \(kind.recordName) record id \(id) is negative: the store is damaged")
    }

    @inline(__always)
    func withRecord<T>(_ id: Int64, _ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        guard id >= 0 else { throw Self.negativeID(kind, id) }
        let page = id / Int64(recordsPerPage)
        let offset = Int(id % Int64(recordsPerPage)) * recordSize
        return try cache.withPage(paged, page, forWrite: false) { try body($0 + offset) }
    }

    func writeRecord(_ id: Int64, _ body: (UnsafeMutableRawPointer) throws -> Void) throws {
        guard id >= 0 else { throw Self.negativeID(kind, id) }
        let page = id / Int64(recordsPerPage)
        let offset = Int(id % Int64(recordsPerPage)) * recordSize
        try cache.withPage(paged, page, forWrite: true) { try body($0 + offset) }
    }

    func readRaw(_ id: Int64) throws -> [UInt8] {
        try withRecord(id) { Array(UnsafeRawBufferPointer(start: $0, count: recordSize)) }
    }

    func writeRaw(_ id: Int64, _ bytes: [UInt8]) throws {
        precondition(bytes.count == recordSize, "\(kind.recordName) after-image of \(bytes.count) bytes")
        try writeRecord(id) { p in
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: recordSize) }
        }
    }

    @inline(__always) func isInUse(_ id: Int64) throws -> Bool {
        guard id >= 0 else { return false }
        return try withRecord(id) { $0.byte(0) & 1 != 0 }
    }

    // MARK: Ids

    func allocate() -> Int64 {
        idMutex.withLock {
            if let id = freeIDs.popLast() { return id }
            defer { _highID += 1 }
            return _highID
        }
    }

    /// Returns ids to the free list (deleted records after apply, or ids of a transaction that failed).
    func release(_ ids: [Int64]) {
        guard !ids.isEmpty else { return }
        idMutex.withLock { freeIDs.append(contentsOf: ids) }
    }

    /// Records that a record was written by a transaction committed elsewhere (replication, recovery).
    func markUsed(_ id: Int64) {
        idMutex.withLock {
            if id >= _highID { _highID = id + 1 }
            if let index = freeIDs.firstIndex(of: id) { freeIDs.remove(at: index) }
        }
    }

    /// Persists the generator, stamped with `stampTx`.
    func saveIDs(stampTx: Int64) throws {
        let (high, free) = idMutex.withLock { (_highID, freeIDs) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24 + free.count * 8)
        appendInt64(&bytes, 0x5452_4c49_4447_454e)  // "TRLIDGEN"
        appendInt64(&bytes, stampTx)
        appendInt64(&bytes, high)
        appendInt64(&bytes, Int64(free.count))
        for id in free { appendInt64(&bytes, id) }
        try writeFileAtomically(fileSystem, idFilePath, bytes)
    }

    /// Loads the generator if its stamp matches; returns false when it must be rebuilt.
    func loadIDs(expectedStampTx: Int64) throws -> Bool {
        guard let bytes = try readWholeFile(fileSystem, idFilePath), bytes.count >= 32 else { return false }
        guard readInt64(bytes, 0) == 0x5452_4c49_4447_454e, readInt64(bytes, 8) == expectedStampTx else { return false }
        let high = readInt64(bytes, 16)
        let count = Int(readInt64(bytes, 24))
        guard count >= 0, bytes.count == 32 + count * 8 else { return false }
        let free = (0..<count).map { readInt64(bytes, 32 + $0 * 8) }
        idMutex.withLock {
            _highID = high
            freeIDs = free
        }
        return true
    }

    /// Rebuilds the generator by scanning every record up to the end of the file, or up to the current high id
    /// when that is beyond it: recovery marks every record it writes as used, and those may sit in cache pages
    /// past the file end with deleted (not in use) records between them.
    func rebuildIDs() throws {
        let fileSize = try paged.file.size()
        let recordCount = max(fileSize / Int64(recordSize), idMutex.withLock { _highID })
        var high: Int64 = 0
        var free: [Int64] = []
        for id in 0..<recordCount where try isInUse(id) {
            high = id + 1
        }
        for id in 0..<high where try !isInUse(id) { free.append(id) }
        // Also consider records already in the cache beyond the file end (applied but not yet flushed).
        var id = recordCount
        while try isInUse(id) {
            for gap in high..<id { free.append(gap) }
            high = id + 1
            id += 1
        }
        idMutex.withLock {
            _highID = high
            freeIDs = free.reversed()
        }
    }
}

// MARK: - Small byte helpers

@inline(__always) func appendInt64(_ bytes: inout [UInt8], _ v: Int64) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
}

@inline(__always) func appendInt32(_ bytes: inout [UInt8], _ v: Int32) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
}

@inline(__always) func readInt64(_ bytes: [UInt8], _ offset: Int) -> Int64 {
    bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: Int64.self)) }
}

@inline(__always) func readInt32(_ bytes: [UInt8], _ offset: Int) -> Int32 {
    bytes.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: Int32.self)) }
}

/// Writes `path` via a temporary file, fsync and rename, so a crash leaves either the old or the new content.
func writeFileAtomically(_ fs: StorageFileSystem, _ path: String, _ bytes: [UInt8]) throws {
    let tmp = path + ".tmp"
    try? fs.removeFile(tmp)
    let file = try fs.open(tmp, create: true)
    defer { file.close() }
    try bytes.withUnsafeBytes { try file.write(at: 0, from: $0) }
    try file.sync()
    try fs.rename(tmp, to: path)
}

/// The whole content of `path`, or nil when it does not exist.
func readWholeFile(_ fs: StorageFileSystem, _ path: String) throws -> [UInt8]? {
    guard fs.fileExists(path) else { return nil }
    let file = try fs.open(path, create: false)
    defer { file.close() }
    let size = Int(try file.size())
    var bytes = [UInt8](repeating: 0, count: size)
    let n = try bytes.withUnsafeMutableBytes { try file.read(at: 0, into: $0) }
    return Array(bytes.prefix(n))
}

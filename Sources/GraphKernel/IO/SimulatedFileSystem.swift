#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues

/// Grows `bytes` by `count` zeros with one `memset`. Not `append(contentsOf: repeatElement(0, …))`: debug builds (every
/// test) append a generic sequence element by element, and a preallocated log file grows a megabyte at a time.
private func appendZeros(_ bytes: inout [UInt8], _ count: Int) {
    guard count > 0 else { return }
    bytes.append(
        contentsOf: [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            memset(buffer.baseAddress!, 0, count)
            initialized = count
        })
}

/// An in-memory disk for tests: keeps, per file, what was written and what was made durable by `sync()`, so a
/// simulated crash can drop unsynced writes; it can also run out of space or fail writes with EIO on demand.
public final class SimulatedFileSystem: StorageFileSystem, @unchecked Sendable {
    /// One file: its current bytes and, to get back to the last synced state on `crash()`, an undo log of the bytes
    /// each write or truncation since that sync replaced. Keeping an undo log instead of a second full copy keeps a
    /// small write into a large (e.g. preallocated) file cheap: it saves only the bytes it overwrote.
    final class Entry {
        var current: [UInt8] = []
        var undo: [(offset: Int, bytes: [UInt8])] = []
        var durableSize = 0

        /// Records the bytes in `range` (clamped to the file) before they change.
        func saveForUndo(_ start: Int, _ end: Int) {
            let upper = min(end, current.count)
            guard start < upper else { return }
            undo.append((start, Array(current[start..<upper])))
        }

        func revertToDurable() {
            for entry in undo.reversed() {
                let end = entry.offset + entry.bytes.count
                if end > current.count { appendZeros(&current, end - current.count) }
                current.replaceSubrange(entry.offset..<end, with: entry.bytes)
            }
            undo.removeAll()
            if current.count > durableSize {
                current.removeLast(current.count - durableSize)
            } else {
                appendZeros(&current, durableSize - current.count)
            }
        }

        func markDurable() {
            undo.removeAll()
            durableSize = current.count
        }
    }

    private let mutex = KernelMutex()
    private var files: [String: Entry] = [:]
    private var directories: Set<String> = []
    private var locks: Set<String> = []
    /// Total bytes the disk can hold across all files (nil = unlimited). Writes that would exceed it fail ENOSPC.
    public var capacityBytes: Int? {
        get { mutex.withLock { _capacity } }
        set { mutex.withLock { _capacity = newValue } }
    }
    private var _capacity: Int?
    /// When true every write and sync fails with EIO.
    public var failAllIO: Bool {
        get { mutex.withLock { _failIO } }
        set { mutex.withLock { _failIO = newValue } }
    }
    private var _failIO = false

    public init() {}

    /// Bytes currently used by all files.
    public var usedBytes: Int { mutex.withLock { files.values.reduce(0) { $0 + $1.current.count } } }

    /// Simulates power loss: every file reverts to its last synced content and all store locks are released.
    public func crash() {
        mutex.withLock {
            for entry in files.values { entry.revertToDurable() }
            locks.removeAll()
        }
    }

    /// Simulates kill -9 of the process using the disk: everything written stays (the operating system has it,
    /// synced or not), only the store locks go.
    public func killProcess() {
        mutex.withLock { locks.removeAll() }
    }

    public func open(_ path: String, create: Bool) throws -> StorageFile {
        try mutex.withLock {
            if files[path] == nil {
                guard create else { throw StorageIOError(operation: "open", path: path, errno: ENOENT) }
                files[path] = Entry()
            }
            return SimulatedFile(fs: self, path: path)
        }
    }

    public func fileExists(_ path: String) -> Bool { mutex.withLock { files[path] != nil } }
    public func directoryExists(_ path: String) -> Bool { mutex.withLock { directories.contains(path) } }
    public func createDirectory(_ path: String) throws { _ = mutex.withLock { directories.insert(path) } }
    public func removeFile(_ path: String) throws { _ = mutex.withLock { files.removeValue(forKey: path) } }

    public func rename(_ from: String, to: String) throws {
        try mutex.withLock {
            guard let entry = files.removeValue(forKey: from) else {
                throw StorageIOError(operation: "rename", path: from, errno: ENOENT)
            }
            // Renames are treated as durable (the real implementation fsyncs the directory).
            files[to] = entry
        }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        mutex.withLock {
            let prefix = path.hasSuffix("/") ? path : path + "/"
            return files.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
                .map { String($0.dropFirst(prefix.count)) }.sorted()
        }
    }

    public func lockFile(_ path: String) throws -> FileLockHandle {
        try mutex.withLock {
            if locks.contains(path) {
                throw DatabaseError(
                    .databaseUnavailable,
                    "The store at \(path) is locked by another process or database instance (store_lock is held)")
            }
            locks.insert(path)
            if files[path] == nil { files[path] = Entry() }
            return SimulatedLock(fs: self, path: path)
        }
    }

    fileprivate func unlock(_ path: String) { _ = mutex.withLock { locks.remove(path) } }

    fileprivate func read(_ path: String, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try mutex.withLock {
            guard let entry = files[path] else { throw StorageIOError(operation: "read", path: path, errno: EBADF) }
            if _failIO { throw StorageIOError(operation: "read", path: path, errno: EIO) }
            let start = Int(offset)
            guard start < entry.current.count else { return 0 }
            let n = min(buffer.count, entry.current.count - start)
            entry.current.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
            }
            return n
        }
    }

    fileprivate func write(_ path: String, at offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        try mutex.withLock {
            guard let entry = files[path] else { throw StorageIOError(operation: "write", path: path, errno: EBADF) }
            if _failIO { throw StorageIOError(operation: "write", path: path, errno: EIO) }
            let end = Int(offset) + buffer.count
            entry.saveForUndo(Int(offset), end)
            if end > entry.current.count {
                let growth = end - entry.current.count
                if let capacity = _capacity {
                    let used = files.values.reduce(0) { $0 + $1.current.count }
                    if used + growth > capacity { throw StorageIOError(operation: "write", path: path, errno: ENOSPC) }
                }
                appendZeros(&entry.current, growth)
            }
            entry.current.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + Int(offset)).copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
            }
        }
    }

    fileprivate func sync(_ path: String) throws {
        try mutex.withLock {
            guard let entry = files[path] else { throw StorageIOError(operation: "fsync", path: path, errno: EBADF) }
            if _failIO { throw StorageIOError(operation: "fsync", path: path, errno: EIO) }
            entry.markDurable()
        }
    }

    fileprivate func size(_ path: String) throws -> Int64 {
        try mutex.withLock {
            guard let entry = files[path] else { throw StorageIOError(operation: "fstat", path: path, errno: EBADF) }
            return Int64(entry.current.count)
        }
    }

    fileprivate func truncate(_ path: String, to size: Int64) throws {
        try mutex.withLock {
            guard let entry = files[path] else { throw StorageIOError(operation: "truncate", path: path, errno: EBADF) }
            let n = Int(size)
            if n < entry.current.count {
                entry.saveForUndo(n, entry.current.count)
                entry.current.removeLast(entry.current.count - n)
            } else {
                appendZeros(&entry.current, n - entry.current.count)
            }
        }
    }
}

final class SimulatedLock: FileLockHandle, @unchecked Sendable {
    private weak var fs: SimulatedFileSystem?
    private let path: String
    private var released = false
    init(fs: SimulatedFileSystem, path: String) {
        self.fs = fs
        self.path = path
    }
    func release() {
        if !released {
            released = true
            fs?.unlock(path)
        }
    }
}

final class SimulatedFile: StorageFile, @unchecked Sendable {
    private let fs: SimulatedFileSystem
    private let path: String
    init(fs: SimulatedFileSystem, path: String) {
        self.fs = fs
        self.path = path
    }
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try fs.read(path, at: offset, into: buffer)
    }
    func write(at offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        try fs.write(path, at: offset, from: buffer)
    }
    func sync() throws { try fs.sync(path) }
    func size() throws -> Int64 { try fs.size(path) }
    func truncate(to size: Int64) throws { try fs.truncate(path, to: size) }
    func close() {}
}

// MARK: - The same simulated disk for the transaction log

/// The transaction log can live on the same simulated disk, so one `crash()` loses unsynced log and store writes
/// together, and one capacity limit fills both.
extension SimulatedFileSystem: LogFileSystem {
    public func openFile(_ path: String, create: Bool) throws -> LogFile {
        try open(path, create: create) as! SimulatedFile
    }

    public func syncDirectory(_ path: String) throws {}
}

extension SimulatedFile: LogFile {
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return Array(bytes.prefix(n))
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try write(at: offset, from: $0) }
    }
}

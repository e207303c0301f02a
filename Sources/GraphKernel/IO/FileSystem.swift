#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues
import Synchronization

/// An open file the stores read and write in whole pages. All disk access of the record stores goes through this
/// protocol so that tests can substitute a simulated disk (out-of-space, I/O errors, lost unsynced writes).
public protocol StorageFile: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes at `offset`; returns the number of bytes read (short at end of file).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Writes all of `buffer` at `offset`, growing the file as needed.
    func write(at offset: Int64, from buffer: UnsafeRawBufferPointer) throws
    /// Makes every completed write durable.
    func sync() throws
    func size() throws -> Int64
    func truncate(to size: Int64) throws
    func close()
    /// The operating system's descriptor of the file, when it is a real one (nil for simulated files), valid until
    /// `close()`: lets a store copy hand the file to sendfile(2) instead of reading it through user memory.
    var descriptor: Int32? { get }
}

extension StorageFile {
    public var descriptor: Int32? { nil }
}

/// The file system the stores live on.
public protocol StorageFileSystem: AnyObject, Sendable {
    func open(_ path: String, create: Bool) throws -> StorageFile
    func fileExists(_ path: String) -> Bool
    func directoryExists(_ path: String) -> Bool
    func createDirectory(_ path: String) throws
    func removeFile(_ path: String) throws
    /// Atomically replaces `to` with `from` (rename(2)).
    func rename(_ from: String, to: String) throws
    func listDirectory(_ path: String) throws -> [String]
    /// Takes an exclusive advisory lock on `path` (created if missing); throws if another holder has it.
    func lockFile(_ path: String) throws -> FileLockHandle
}

/// An acquired store lock; released by `release()` or when the process dies.
public protocol FileLockHandle: AnyObject, Sendable {
    func release()
}

/// A failed system call on a store or log file, with its errno. The one I/O error type of the kernel's file
/// layers (`LogIOError` is the transaction log's name for it).
public struct StorageIOError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// Disk full (ENOSPC) or quota exceeded (EDQUOT): the write can fail cleanly and be retried later.
    public var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return "\(operation) failed on \(path): \(reason) (errno \(errno))"
    }

    /// The client-visible form: disk full is transient (space may return), anything else a database error.
    var asDatabaseError: DatabaseError {
        if isOutOfSpace {
            return DatabaseError(.transactionCommitFailed, "No space left on device: \(description)")
        }
        return DatabaseError(.storageDamageDetected, description)
    }
}

// MARK: - POSIX implementation

/// Real files through pread/pwrite/fsync, for the record stores (`StorageFileSystem`) and the transaction log
/// (`LogFileSystem`, where files sync with fdatasync: the log depends only on size and data, never on mtime).
public final class PosixFileSystem: StorageFileSystem {
    public init() {}

    public func open(_ path: String, create: Bool) throws -> StorageFile {
        try openPosixFile(path, create: create, dataOnlySync: false)
    }

    fileprivate func openPosixFile(_ path: String, create: Bool, dataOnlySync: Bool) throws -> PosixFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = Glibc.open(path, flags, 0o644)
        if fd < 0 { throw StorageIOError(operation: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path, dataOnlySync: dataOnlySync)
    }

    public func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public func directoryExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func createDirectory(_ path: String) throws {
        // mkdir -p: create each missing component.
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if directoryExists(current) { continue }
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw StorageIOError(operation: "mkdir", path: current, errno: errno)
            }
        }
    }

    public func removeFile(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw StorageIOError(operation: "unlink", path: path, errno: errno) }
    }

    public func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw StorageIOError(operation: "rename", path: from, errno: errno) }
        // Make the rename itself durable.
        let dir = to.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dfd = Glibc.open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            Glibc.close(dfd)
        }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw StorageIOError(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func lockFile(_ path: String) throws -> FileLockHandle {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw StorageIOError(operation: "open", path: path, errno: errno) }
        // flock locks belong to the open file description, so a second open in the same process conflicts too.
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            Glibc.close(fd)
            if code == EWOULDBLOCK {
                throw DatabaseError(
                    .databaseUnavailable,
                    "The store at \(path) is locked by another process or database instance (store_lock is held)")
            }
            throw StorageIOError(operation: "flock", path: path, errno: code)
        }
        return PosixFileLock(fd: fd)
    }
}

final class PosixFileLock: FileLockHandle, @unchecked Sendable {
    private var fd: Int32
    init(fd: Int32) { self.fd = fd }
    func release() {
        if fd >= 0 {
            _ = flock(fd, LOCK_UN)
            Glibc.close(fd)
            fd = -1
        }
    }
    deinit { release() }
}

/// One open file. The descriptor is closed by `close()` or, at the latest, when the last reference goes: a
/// group-commit leader may still be syncing a log file that rotation has just retired, so closing waits for ARC.
final class PosixFile: StorageFile, @unchecked Sendable {
    private let fd: Int32
    let path: String
    /// fdatasync instead of fsync (log files).
    private let dataOnlySync: Bool
    private let closed = Atomic<Bool>(false)

    init(fd: Int32, path: String, dataOnlySync: Bool) {
        self.fd = fd
        self.path = path
        self.dataOnlySync = dataOnlySync
    }

    deinit { close() }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageIOError(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func write(at offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageIOError(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    func sync() throws {
        if dataOnlySync {
            if fdatasync(fd) != 0 { throw StorageIOError(operation: "fdatasync", path: path, errno: errno) }
        } else {
            if fsync(fd) != 0 { throw StorageIOError(operation: "fsync", path: path, errno: errno) }
        }
    }

    func size() throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw StorageIOError(operation: "fstat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    var descriptor: Int32? { closed.load(ordering: .acquiring) ? nil : fd }

    func truncate(to size: Int64) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw StorageIOError(operation: "ftruncate", path: path, errno: errno) }
    }

    func close() {
        // Exactly once, whether called explicitly, again, or from deinit.
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { Glibc.close(fd) }
    }
}

// MARK: - The same POSIX files for the transaction log

extension PosixFileSystem: LogFileSystem {
    public func openFile(_ path: String, create: Bool) throws -> LogFile {
        try openPosixFile(path, create: create, dataOnlySync: true)
    }

    public func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw StorageIOError(operation: "open directory", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        if fsync(fd) != 0 { throw StorageIOError(operation: "fsync directory", path: path, errno: errno) }
    }
}

extension PosixFile: LogFile {
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        if n < count { bytes.removeLast(count - n) }
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try write(at: offset, from: $0) }
    }
}

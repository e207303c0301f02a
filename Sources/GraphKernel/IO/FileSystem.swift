#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues

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

/// An I/O failure, with the errno when there is one.
public struct StorageIOError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var isOutOfSpace: Bool { errno == ENOSPC }

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

/// Real files through pread/pwrite/fsync.
public final class PosixFileSystem: StorageFileSystem {
    public init() {}

    public func open(_ path: String, create: Bool) throws -> StorageFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = Glibc.open(path, flags, 0o644)
        if fd < 0 { throw StorageIOError(operation: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path)
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

final class PosixFile: StorageFile, @unchecked Sendable {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

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
        if fsync(fd) != 0 { throw StorageIOError(operation: "fsync", path: path, errno: errno) }
    }

    func size() throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw StorageIOError(operation: "fstat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    func truncate(to size: Int64) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw StorageIOError(operation: "ftruncate", path: path, errno: errno) }
    }

    func close() { Glibc.close(fd) }
}

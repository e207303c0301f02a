#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues

/// An open log file. All disk access of the transaction log goes through `LogFileSystem`/`LogFile` so tests can
/// inject out-of-space, I/O errors and torn writes (`FaultInjectingLogFileSystem`).
public protocol LogFile: AnyObject, Sendable {
    /// Reads up to `count` bytes at `offset`; fewer at end of file.
    func read(at offset: Int64, count: Int) throws -> [UInt8]
    /// Writes all of `bytes` at `offset` (a failure may leave a prefix written; the log truncates it away).
    func write(_ bytes: [UInt8], at offset: Int64) throws
    /// Makes the file's data durable (`fdatasync`: the log never depends on mtime, only on size and data).
    func sync() throws
    func size() throws -> Int64
    func truncate(to size: Int64) throws
    func close()
}

/// The file system the transaction log lives on.
public protocol LogFileSystem: AnyObject, Sendable {
    func openFile(_ path: String, create: Bool) throws -> LogFile
    func fileExists(_ path: String) -> Bool
    /// File names (not paths) in `path`, sorted.
    func listDirectory(_ path: String) throws -> [String]
    func removeFile(_ path: String) throws
    /// Creates `path` and missing parents.
    func createDirectory(_ path: String) throws
    /// Makes creations and removals of entries in `path` durable (fsync on the directory).
    func syncDirectory(_ path: String) throws
}

/// A failed system call on a log file, with its errno.
public struct LogIOError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// Disk full (ENOSPC) or quota exceeded (EDQUOT): the append can fail cleanly and be retried later.
    public var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    public var description: String {
        "\(operation) failed on \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

// MARK: - POSIX

/// Real files: pread/pwrite/fdatasync.
public final class PosixLogFileSystem: LogFileSystem {
    public init() {}

    public func openFile(_ path: String, create: Bool) throws -> LogFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let fd = open(path, flags, 0o644)
        if fd < 0 { throw LogIOError(operation: "open", path: path, errno: errno) }
        return PosixLogFile(fd: fd, path: path)
    }

    public func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw LogIOError(operation: "opendir", path: path, errno: errno) }
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

    public func removeFile(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw LogIOError(operation: "unlink", path: path, errno: errno) }
    }

    public func createDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw LogIOError(operation: "mkdir", path: current, errno: errno)
            }
        }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw LogIOError(operation: "open directory", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw LogIOError(operation: "fsync directory", path: path, errno: errno) }
    }
}

/// One open log file. The descriptor is closed by `close()` or, at the latest, when the last reference goes: a
/// group-commit leader may still be syncing a file that rotation has just retired, so closing waits for ARC.
final class PosixLogFile: LogFile, @unchecked Sendable {
    private let fd: Int32
    let path: String
    private let closed = LogMutex()
    private var isClosed = false

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        try buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw LogIOError(operation: "read", path: path, errno: errno)
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < count { buffer.removeLast(count - done) }
        return buffer
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw LogIOError(operation: "write", path: path, errno: errno)
                }
                done += n
            }
        }
    }

    func sync() throws {
        #if canImport(Glibc)
        let result = fdatasync(fd)
        #else
        let result = fsync(fd)
        #endif
        if result != 0 { throw LogIOError(operation: "fdatasync", path: path, errno: errno) }
    }

    func size() throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw LogIOError(operation: "fstat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    func truncate(to size: Int64) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw LogIOError(operation: "ftruncate", path: path, errno: errno) }
    }

    func close() {
        closed.withLock {
            if !isClosed {
                isClosed = true
                logSystemClose(fd)
            }
        }
    }
}

// MARK: - Synchronisation helpers (pthread; the log's critical sections are short and must not allocate)

/// A mutex with a condition variable.
final class LogMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        // Time-outs are computed on the monotonic clock so wall-clock jumps do not shorten or stretch them.
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(cond, &attr) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always) func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a broadcast; the mutex must be held.
    func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits for a broadcast or until the monotonic deadline (nanoseconds); returns false on time-out.
    func wait(untilMonotonicNanos deadline: UInt64) -> Bool {
        var ts = timespec()
        ts.tv_sec = Int(deadline / 1_000_000_000)
        ts.tv_nsec = Int(deadline % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &ts) != ETIMEDOUT
    }

    func broadcast() { pthread_cond_broadcast(cond) }
}

/// close(2), callable from types that have their own `close()`.
func logSystemClose(_ fd: Int32) { _ = close(fd) }

/// Monotonic clock in nanoseconds.
func logMonotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Wall clock in milliseconds since the epoch, for commit timestamps and age-based retention.
func logWallClockMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

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

/// A failed system call on a log file: the kernel's one I/O error type.
public typealias LogIOError = StorageIOError

/// Real log files: `PosixFileSystem` serves the stores and the log alike (log files sync with fdatasync).
public typealias PosixLogFileSystem = PosixFileSystem

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

import GraphValues
#if canImport(Glibc)
import Glibc
#endif

@testable import GraphKernel

/// Wraps the real file system and injects faults into log files: out-of-space after N bytes of a write (leaving the
/// prefix written, as a real short write does), EIO on sync, and counts syncs.
final class FaultInjectingLogFileSystem: LogFileSystem, @unchecked Sendable {
    private let base = PosixLogFileSystem()
    private let mutex = LogMutex()
    private var _failWritesAfterBytes: Int?
    private var _failWriteErrno: Int32 = ENOSPC
    private var _failNextSync = false
    private var _syncCount = 0
    private var _failDirectorySync = false
    private var _syncDelayMicroseconds: UInt32 = 0

    /// Makes every sync take at least this long, as a real disk does, so concurrent appenders pile up behind it.
    func delaySyncs(microseconds: UInt32) { mutex.withLock { _syncDelayMicroseconds = microseconds } }
    var syncDelayMicroseconds: UInt32 { mutex.withLock { _syncDelayMicroseconds } }

    /// Every following write writes at most `bytes` bytes and then fails with `errno` (until `heal()`).
    func failWrites(afterBytes bytes: Int, errno: Int32 = ENOSPC) {
        mutex.withLock {
            _failWritesAfterBytes = bytes
            _failWriteErrno = errno
        }
    }

    func failNextSync() { mutex.withLock { _failNextSync = true } }
    func heal() {
        mutex.withLock {
            _failWritesAfterBytes = nil
            _failNextSync = false
        }
    }
    var syncCount: Int { mutex.withLock { _syncCount } }

    func writeFault() -> (Int, Int32)? {
        mutex.withLock { _failWritesAfterBytes.map { ($0, _failWriteErrno) } }
    }

    func syncFault() -> Bool {
        mutex.withLock {
            _syncCount += 1
            defer { _failNextSync = false }
            return _failNextSync
        }
    }

    func openFile(_ path: String, create: Bool) throws -> LogFile {
        FaultyLogFile(base: try base.openFile(path, create: create), path: path, fileSystem: self)
    }
    func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    func removeFile(_ path: String) throws { try base.removeFile(path) }
    func createDirectory(_ path: String) throws { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
}

final class FaultyLogFile: LogFile, @unchecked Sendable {
    let base: LogFile
    let path: String
    let fileSystem: FaultInjectingLogFileSystem

    init(base: LogFile, path: String, fileSystem: FaultInjectingLogFileSystem) {
        self.base = base
        self.path = path
        self.fileSystem = fileSystem
    }

    func read(at offset: Int64, count: Int) throws -> [UInt8] { try base.read(at: offset, count: count) }

    func write(_ bytes: [UInt8], at offset: Int64) throws {
        if let (limit, code) = fileSystem.writeFault() {
            if limit > 0 { try base.write(Array(bytes.prefix(limit)), at: offset) }
            throw LogIOError(operation: "write", path: path, errno: code)
        }
        try base.write(bytes, at: offset)
    }

    func sync() throws {
        if fileSystem.syncFault() { throw LogIOError(operation: "fdatasync", path: path, errno: EIO) }
        let delay = fileSystem.syncDelayMicroseconds
        if delay > 0 { usleep(delay) }
        try base.sync()
    }

    func size() throws -> Int64 { try base.size() }
    func truncate(to size: Int64) throws { try base.truncate(to: size) }
    func close() { base.close() }
}

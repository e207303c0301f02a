import Foundation

/// `run/trellis.pid`, written by the running server itself (console or background) and held with an
/// exclusive `flock` for the life of the process: a second instance on the same home cannot start, and a
/// stale file left by a killed process is recognised because nobody holds its lock.
public final class PidFile {
    public let path: String
    let fd: Int32

    /// Creates/locks the pid file and writes this process's pid. Throws when another live process holds it.
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LifecycleError("cannot open pid file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            let other = PidFile.readPid(path).map { " (pid \($0))" } ?? ""
            throw LifecycleError("Trellis is already running\(other); pid file \(path) is locked")
        }
        _ = ftruncate(fd, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        _ = fsync(fd)
        self.fd = fd
    }

    /// Removes the file and releases the lock (at graceful shutdown).
    public func release() {
        unlink(path)
        flock(fd, LOCK_UN)
        close(fd)
    }

    public static func readPid(_ path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return nil }
        return pid
    }

    /// The pid of the running server for this pid file, or nil when none runs (no file, stale file, or dead
    /// process).
    public static func runningPid(_ path: String) -> pid_t? {
        guard let pid = readPid(path) else { return nil }
        // Someone must hold the lock: a pid file of a SIGKILLed server is stale even if its pid was reused.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return kill(pid, 0) == 0 || errno == EPERM ? pid : nil
    }
}

public struct LifecycleError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

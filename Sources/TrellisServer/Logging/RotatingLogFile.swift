import Foundation
import Synchronization

/// An append-only log file that rotates by size: when a line would take it past `rotationSizeBytes`, the file
/// becomes `<name>.1` (older ones shift to `.2`, …) and files past `keepNumber` are deleted, as Neo4j rotates
/// debug.log and query.log. Thread-safe; each line is written with one `write(2)` on an O_APPEND descriptor.
public final class RotatingLogFile: Sendable {
    public let path: String
    public let rotationSizeBytes: Int64
    public let keepNumber: Int

    struct State {
        var fd: Int32 = -1
        var size: Int64 = 0
    }

    let state = Mutex(State())

    public init(path: String, rotationSizeBytes: Int64, keepNumber: Int) throws {
        precondition(keepNumber >= 1, "keepNumber must be at least 1, got \(keepNumber)")
        self.path = path
        self.rotationSizeBytes = rotationSizeBytes
        self.keepNumber = keepNumber
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try state.withLock { s in try Self.open(path, into: &s) }
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 { close(s.fd) }
            s.fd = -1
        }
    }

    static func open(_ path: String, into s: inout State) throws {
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        var st = stat()
        s.size = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
        s.fd = fd
    }

    /// Appends `line` (a newline is added when missing). Errors writing a log are swallowed: losing a log line
    /// must not fail a query.
    public func append(_ line: String) {
        var bytes = Array(line.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        state.withLock { s in
            if s.size > 0 && s.size + Int64(bytes.count) > rotationSizeBytes { rotate(&s) }
            guard s.fd >= 0 else { return }
            let n = bytes.withUnsafeBytes { write(s.fd, $0.baseAddress, $0.count) }
            if n > 0 { s.size += Int64(n) }
        }
    }

    func rotate(_ s: inout State) {
        if s.fd >= 0 { close(s.fd) }
        s.fd = -1
        let fm = FileManager.default
        try? fm.removeItem(atPath: "\(path).\(keepNumber)")
        if keepNumber > 1 {
            for i in stride(from: keepNumber - 1, through: 1, by: -1) where fm.fileExists(atPath: "\(path).\(i)") {
                _ = rename("\(path).\(i)", "\(path).\(i + 1)")
            }
        }
        _ = rename(path, "\(path).1")
        try? Self.open(path, into: &s)
    }

    /// Current size of the live file (for tests and status).
    public var sizeBytes: Int64 { state.withLock { $0.size } }
}

/// Timestamps as Neo4j writes them: `2019-06-20 02:01:44.948+0000`.
public enum LogTimestamp {
    public static func format(_ date: Date = Date(), utc: Bool = true) -> String {
        let t = date.timeIntervalSince1970
        var seconds = time_t(t.rounded(.down))
        let millis = Int((t - Double(seconds)) * 1000)
        var parts = tm()
        if utc { gmtime_r(&seconds, &parts) } else { localtime_r(&seconds, &parts) }
        let offset = utc ? 0 : Int(parts.tm_gmtoff)
        let sign = offset < 0 ? "-" : "+"
        let off = abs(offset)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%03d%@%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis, sign, off / 3600,
            (off % 3600) / 60)
    }
}

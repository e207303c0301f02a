import Foundation

/// Writes metrics as Neo4j's CSV reporter does (neo4j-ops.md §1): one file per metric, `<name>.csv` in
/// `dbms.directories.metrics`, a header line (`t,count` for counters, `t,value` for gauges) and one line per report
/// with the time in epoch seconds. A file that would grow past `metrics.csv.rotation.size` is renamed `<name>.csv.1`
/// (older ones shift to `.2`, … up to `metrics.csv.rotation.keep_number`, the oldest is deleted) and a new file
/// with a header is started.
///
/// Not thread-safe: one reporter timer calls `report`.
public final class CSVReporter {
    public let directory: String
    public let rotationSizeBytes: Int64
    public let keepNumber: Int
    /// Current size of each metric's file, learnt from the file system on first use.
    private var sizes: [String: Int64] = [:]
    private var createdDirectory = false

    public init(directory: String, rotationSizeBytes: Int64, keepNumber: Int) {
        precondition(keepNumber >= 1, "keep_number \(keepNumber) must be at least 1")
        self.directory = directory
        self.rotationSizeBytes = rotationSizeBytes
        self.keepNumber = keepNumber
    }

    /// The file of metric `name`.
    public func path(of name: String) -> String { directory + "/" + name + ".csv" }

    /// Appends one line per sample. Throws on the first file that cannot be written (the caller logs it; the next
    /// report tries again).
    public func report(_ samples: [MetricSample], epochSeconds: Int64) throws {
        if !createdDirectory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            createdDirectory = true
        }
        for sample in samples {
            let file = path(of: sample.name)
            let line = "\(epochSeconds),\(sample.formattedValue)\n"
            var size = try currentSize(file)
            if size > 0 && size + Int64(line.utf8.count) > rotationSizeBytes {
                try rotate(file)
                size = 0
            }
            var text = line
            if size == 0 { text = (sample.kind == .counter ? "t,count\n" : "t,value\n") + line }
            do {
                try append(text, to: file)
            } catch {
                sizes[file] = nil  // a partial write may have happened: read the size again next time
                throw error
            }
            sizes[file] = size + Int64(text.utf8.count)
        }
    }

    private func currentSize(_ file: String) throws -> Int64 {
        if let known = sizes[file] { return known }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        sizes[file] = size
        return size
    }

    private func rotate(_ file: String) throws {
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(file).\(keepNumber)")
        if keepNumber > 1 {
            for n in stride(from: keepNumber - 1, through: 1, by: -1) where manager.fileExists(atPath: "\(file).\(n)") {
                try manager.moveItem(atPath: "\(file).\(n)", toPath: "\(file).\(n + 1)")
            }
        }
        try manager.moveItem(atPath: file, toPath: "\(file).1")
        sizes[file] = 0
    }

    private func append(_ text: String, to file: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CSVReporterError(file: file, errno: errno) }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CSVReporterError(file: file, errno: errno)
            }
            offset += n
        }
    }
}

/// A metrics CSV file could not be written.
public struct CSVReporterError: Error, CustomStringConvertible {
    public var file: String
    public var errno: Int32
    public var description: String { "cannot write \(file): \(String(cString: strerror(errno)))" }
}

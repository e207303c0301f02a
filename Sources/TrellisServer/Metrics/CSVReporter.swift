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
    ///
    /// Nothing about the files is remembered between reports: the folder is created again when missing and each
    /// file's size is read from the file system, so an operator who clears the folder or deletes a file while the
    /// server runs gets fresh files with headers on the next report instead of a reporter that fails forever.
    public func report(_ samples: [MetricSample], epochSeconds: Int64) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for sample in samples {
            let file = path(of: sample.name)
            let line = "\(epochSeconds),\(sample.formattedValue)\n"
            var size = currentSize(file)
            if size > 0 && size + Int64(line.utf8.count) > rotationSizeBytes {
                try rotate(file)
                size = 0
            }
            var text = line
            if size == 0 { text = (sample.kind == .counter ? "t,count\n" : "t,value\n") + line }
            try append(text, to: file)
        }
    }

    /// The file's size now (0 when it does not exist): one stat per metric and report.
    private func currentSize(_ file: String) -> Int64 {
        var info = stat()
        guard stat(file, &info) == 0 else { return 0 }
        return Int64(info.st_size)
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

import GraphValues
#if canImport(Glibc)
import Glibc
#endif

@testable import GraphKernel

/// A fresh, empty directory under /tmp that removes itself (and its files) when done.
final class LogTestDirectory {
    let path: String

    init(_ name: String = "log") {
        var template = Array("/tmp/trellis-\(name)-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() {
        if let names = try? PosixLogFileSystem().listDirectory(path) {
            for name in names { unlink(path + "/" + name) }
        }
        rmdir(path)
    }

    deinit { remove() }

    func fileSize(_ name: String) -> Int64 {
        var st = stat()
        return stat(path + "/" + name, &st) == 0 ? Int64(st.st_size) : -1
    }

    /// The bytes of file `name` from `offset` to its end.
    func bytesAfter(_ offset: Int64, of name: String) -> [UInt8] {
        guard let file = try? PosixLogFileSystem().openFile(path + "/" + name, create: false) else { return [] }
        defer { file.close() }
        let size = (try? file.size()) ?? 0
        guard size > offset else { return [] }
        return (try? file.read(at: offset, count: Int(size - offset))) ?? []
    }

    func truncateFile(_ name: String, to size: Int64) {
        precondition(truncate(path + "/" + name, off_t(size)) == 0, "truncate failed")
    }

    func logFiles() -> [String] {
        ((try? PosixLogFileSystem().listDirectory(path)) ?? []).filter { $0.hasPrefix("neostore.transaction.db.") }
    }
}

/// A payload that names its transaction number, so tests can check content after recovery.
func testPayload(_ n: Int, size: Int = 40) -> [UInt8] {
    var bytes = Array("payload-\(n)-".utf8)
    while bytes.count < size { bytes.append(UInt8(truncatingIfNeeded: n &+ bytes.count)) }
    return bytes
}

func readAll(_ log: TransactionLog, from: Int64) throws -> [CommittedTransaction] {
    var result: [CommittedTransaction] = []
    try log.transactions(from: TxID(from)).forEach { result.append($0) }
    return result
}

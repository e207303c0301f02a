#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import Synchronization

/// The receiving end of a store copy, off NIO: one blocking TCP connection of its own on a dedicated thread, so the
/// file bodies can go from the socket to the files with splice(2) (socket → pipe → file: the bytes never enter user
/// memory) instead of being cut into frames, buffered and copied by the event loop.
///
/// Stream (docs/clustering-design.md, "Store copy"): per file a `fileStart` frame (name, length), exactly that many
/// raw bytes, and a `fileEnd` frame repeating name and length; `storeCopyEnd` last (copy's last tx id, file count).
/// Frames are read exactly (length first), so nothing of a body is ever read into a frame buffer. A connection that
/// ends early, a body followed by anything but its `fileEnd` frame, a file longer or shorter than announced, an
/// unknown name or frame all fail the copy: the caller removes the staging directory, nothing is installed.
final class StoreCopyReceiver {
    /// A copy's connection, shut down by `DataClient.close()` to abort a copy in progress.
    final class Connection: Sendable {
        private let descriptor: Mutex<Int32>

        fileprivate init(descriptor: Int32) {
            self.descriptor = Mutex(descriptor)
        }

        fileprivate var fd: Int32 { descriptor.withLock { $0 } }

        /// Wakes a blocked read with end-of-stream (the copy then fails as truncated or closed).
        func shutdown() {
            descriptor.withLock { fd in
                if fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
            }
        }

        fileprivate func close() {
            descriptor.withLock { fd in
                if fd >= 0 { _ = Glibc.close(fd) }
                fd = -1
            }
        }
    }

    private let address: String
    private let connection: Connection
    private let timeout: Duration
    private let maxFrameBytes: Int
    private let allocator = ByteBufferAllocator()
    private var pipe: (read: Int32, write: Int32)?
    private var pipeCapacity = 0
    /// Reused by the fallback path (no splice) for read + pwrite.
    private var copyBuffer: UnsafeMutableRawBufferPointer?
    static let requestID: UInt64 = 1

    /// Connects (bounded by `timeout`); reads and writes then fail after `timeout` of silence.
    init(address: String, host: String, port: Int, timeout: Duration, maxFrameBytes: Int) throws {
        self.address = address
        self.timeout = timeout
        self.maxFrameBytes = maxFrameBytes
        self.connection = Connection(descriptor: try Self.connect(host: host, port: port, timeout: timeout))
    }

    deinit {
        connection.close()
        if let pipe {
            Glibc.close(pipe.read)
            Glibc.close(pipe.write)
        }
        copyBuffer?.deallocate()
    }

    var abortHandle: Connection { connection }

    // MARK: Connection

    private static func connect(host: String, port: Int, timeout: Duration) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw DataPortError.unavailable("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            // SO_SNDTIMEO bounds connect(2) too on Linux; SO_RCVTIMEO bounds every read and splice from the socket.
            var time = timeval(
                tv_sec: Int(timeout.components.seconds),
                tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw DataPortError.unavailable("cannot connect to \(host):\(port): \(lastError)")
    }

    private func ioError(_ what: String) -> Error {
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK {
            return DataPortError.unavailable("no data from \(address) within \(timeout) (\(what))")
        }
        return DataPortError.unavailable("\(what) with \(address) failed: \(String(cString: strerror(code)))")
    }

    func send(_ frame: ByteBuffer) throws {
        try frame.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.send(connection.fd, raw.baseAddress! + done, raw.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("sending the store copy request")
                }
                done += n
            }
        }
    }

    /// Reads exactly `count` bytes; end of stream before that is a truncated copy.
    private func readExactly(_ count: Int, into raw: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String)
        throws
    {
        var done = 0
        while done < count {
            let n = read(connection.fd, raw.baseAddress! + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("reading \(what())")
            }
            if n == 0 {
                throw DataPortError.unavailable("the store copy stream from \(address) ended inside \(what())")
            }
            done += n
        }
    }

    /// The next frame (version and request id checked).
    func readFrame(context: @autoclosure () -> String) throws -> DataFrame {
        var length: UInt32 = 0
        try withUnsafeMutableBytes(of: &length) { try readExactly(4, into: $0, what: "a frame after \(context())") }
        let frameBytes = Int(UInt32(bigEndian: length))
        guard frameBytes >= DataWire.envelopeBytes, frameBytes <= maxFrameBytes else {
            throw DataPortError.protocolViolation(
                "frame length \(frameBytes) outside \(DataWire.envelopeBytes)...\(maxFrameBytes) after \(context())")
        }
        var buffer = allocator.buffer(capacity: frameBytes)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frameBytes) { raw in
            try readExactly(frameBytes, into: raw, what: "a frame after \(context())")
            return frameBytes
        }
        let (version, kind, requestID) = buffer.readMultipleIntegers(as: (UInt8, UInt8, UInt64).self)!
        guard version == DataWire.version else {
            throw DataPortError.protocolViolation("peer speaks data port version \(version)")
        }
        let frame = DataFrame(version: version, kind: kind, requestID: requestID, body: buffer)
        guard requestID == Self.requestID || (requestID == 0 && kind == DataWire.Kind.error.rawValue) else {
            throw DataPortError.protocolViolation("store copy stream carried a frame of request \(requestID)")
        }
        return frame
    }

    // MARK: The stream

    /// Sends the request and receives every file into `staging` (each fsynced by `syncer`, which the caller awaits);
    /// returns the files' names in arrival order and the copy's last tx id.
    func receiveStore(into staging: String, syncer: BackgroundSyncer) throws -> (names: [String], lastTxID: TxID) {
        try send(DataWire.frame(allocator, .storeCopy, requestID: Self.requestID) { _ in })
        var names: [String] = []
        func unexpected(_ frame: DataFrame, _ place: String) -> Error {
            if frame.kind == DataWire.Kind.error.rawValue { return DataWireError.decode(frame.body) }
            return DataPortError.protocolViolation("unexpected frame kind \(frame.kind) in a store copy \(place)")
        }
        while true {
            var frame = try readFrame(context: names.last.map { "the body of \($0)" } ?? "the store copy request")
            switch DataWire.Kind(rawValue: frame.kind) {
            case .storeCopyPreparing:
                guard names.isEmpty else { throw unexpected(frame, "after its first file") }
                continue
            case .fileStart:
                let name = try frame.body.readWireString()
                let size = try frame.body.readWireInteger(as: UInt64.self)
                try frame.body.expectEnd("a file start")
                guard DataClient.isStoreFileName(name), !names.contains(name) else {
                    throw DataPortError.protocolViolation("store copy sent an unacceptable file name '\(name)'")
                }
                guard size <= UInt64(Int64.max) else {
                    throw DataPortError.protocolViolation("store copy announced \(name) of \(size) bytes")
                }
                names.append(name)
                let file = try ReceivedFile(path: staging + "/" + name)
                do {
                    try receiveBody(into: file, size: size, name: name)
                    var end = try readFrame(context: "the body of \(name)")
                    guard end.kind == DataWire.Kind.fileEnd.rawValue else {
                        throw end.kind == DataWire.Kind.error.rawValue
                            ? DataWireError.decode(end.body)
                            : DataPortError.protocolViolation(
                                "\(name): its \(size) bytes were not followed by its end frame (kind \(end.kind))")
                    }
                    let endName = try end.body.readWireString()
                    let endSize = try end.body.readWireInteger(as: UInt64.self)
                    try end.body.expectEnd("a file end")
                    guard endName == name, endSize == size else {
                        throw DataPortError.protocolViolation(
                            "\(name) of \(size) bytes ended as \(endName) of \(endSize) bytes")
                    }
                    let onDisk = try file.size()
                    guard onDisk == Int64(size) else {
                        throw DataPortError.protocolViolation("\(name): \(onDisk) bytes written, \(size) announced")
                    }
                } catch {
                    file.close()
                    throw error
                }
                // One fsync per file, on another thread while the next files arrive.
                syncer.syncAndClose(file)
            case .storeCopyEnd:
                let txID = try frame.body.readWireInteger(as: Int64.self)
                let count = try frame.body.readWireInteger(as: UInt32.self)
                try frame.body.expectEnd("a store copy end")
                guard Int(count) == names.count, names.contains("neostore") else {
                    throw DataPortError.protocolViolation(
                        "store copy ended after \(names.count) files, announced \(count), metadata "
                            + (names.contains("neostore") ? "present" : "missing"))
                }
                return (names, TxID(txID))
            default:
                throw unexpected(frame, names.isEmpty ? "before its first file" : "after \(names.last!)")
            }
        }
    }

    // MARK: Bodies

    /// Moves exactly `size` bytes from the socket into `file` (at offset 0 on): splice through a pipe when the
    /// kernel allows it, else read + pwrite through one reused buffer.
    func receiveBody(into file: ReceivedFile, size: UInt64, name: String) throws {
        var offset: Int64 = 0
        let total = Int64(size)
        if Splice.function != nil {
            offset = try spliceBody(into: file, total: total, name: name)
        }
        if offset < total { try copyBody(into: file, from: offset, total: total, name: name) }
    }

    /// Returns how far it got: `total`, or less when splice is refused (then the rest goes through `copyBody`).
    private func spliceBody(into file: ReceivedFile, total: Int64, name: String) throws -> Int64 {
        guard let splice = Splice.function, let (pipeRead, pipeWrite) = try openPipe() else { return 0 }
        var offset: Int64 = 0
        while offset < total {
            let want = Int(min(Int64(pipeCapacity), total - offset))
            let moved = splice(connection.fd, nil, pipeWrite, nil, want, Splice.move | Splice.more)
            if moved < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL || errno == ENOSYS { return offset }
                throw ioError("receiving \(name)")
            }
            if moved == 0 {
                throw DataPortError.unavailable(
                    "the store copy stream from \(address) ended inside \(name) at byte \(offset) of \(total)")
            }
            var left = moved
            while left > 0 {
                var at = offset
                let written = splice(pipeRead, nil, file.descriptor, &at, left, Splice.move)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EINVAL || errno == ENOSYS {
                        // The file system takes no splice: drain the pipe by hand, then go on without it.
                        try drainPipe(pipeRead, count: left, into: file, at: offset)
                        offset += Int64(left)
                        return offset
                    }
                    throw DatabaseError(
                        .storageDamageDetected, "Writing \(file.path) failed: \(String(cString: strerror(errno)))")
                }
                precondition(written > 0, "splice from a pipe holding \(left) bytes moved nothing")
                left -= written
                offset += Int64(written)
                file.written(upTo: offset)
            }
        }
        return offset
    }

    private func drainPipe(_ pipeRead: Int32, count: Int, into file: ReceivedFile, at start: Int64) throws {
        let buffer = scratch()
        var done = 0
        while done < count {
            let n = read(pipeRead, buffer.baseAddress!, min(buffer.count, count - done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("draining the store copy pipe")
            }
            precondition(n > 0, "the store copy pipe ended with \(count - done) bytes announced")
            try file.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: start + Int64(done))
            done += n
        }
    }

    private func copyBody(into file: ReceivedFile, from start: Int64, total: Int64, name: String) throws {
        let buffer = scratch()
        var offset = start
        while offset < total {
            let want = Int(min(Int64(buffer.count), total - offset))
            let n = read(connection.fd, buffer.baseAddress!, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("receiving \(name)")
            }
            if n == 0 {
                throw DataPortError.unavailable(
                    "the store copy stream from \(address) ended inside \(name) at byte \(offset) of \(total)")
            }
            try file.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), at: offset)
            offset += Int64(n)
        }
    }

    private func scratch() -> UnsafeMutableRawBufferPointer {
        if let copyBuffer { return copyBuffer }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        copyBuffer = buffer
        return buffer
    }

    /// One pipe per copy, enlarged to 1 MiB when allowed (fewer splice calls); nil when no pipe can be made.
    private func openPipe() throws -> (Int32, Int32)? {
        if let pipe { return pipe }
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ (Linux), not exported to Swift
        let getPipeSize: Int32 = 1032  // F_GETPIPE_SZ
        _ = fcntl(fds[1], setPipeSize, Int32(1 << 20))
        let capacity = fcntl(fds[1], getPipeSize)
        pipeCapacity = capacity > 0 ? Int(capacity) : 65536
        pipe = (fds[0], fds[1])
        return (fds[0], fds[1])
    }
}

/// Linux calls Swift's Glibc module does not export (they need _GNU_SOURCE), looked up once at run time.
enum Splice {
    typealias SpliceFunction = @convention(c) (
        Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
    ) -> Int
    typealias SyncFileRangeFunction = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32

    static let move: UInt32 = 1  // SPLICE_F_MOVE
    static let more: UInt32 = 4  // SPLICE_F_MORE
    static let syncFileRangeWrite: UInt32 = 2  // SYNC_FILE_RANGE_WRITE

    /// Tests switch splice off to cover the read + pwrite path.
    static let disabled = Atomic<Bool>(false)

    static var function: SpliceFunction? { disabled.load(ordering: .relaxed) ? nil : spliceSymbol }

    private static let spliceSymbol: SpliceFunction? = lookUp("splice")
    static let syncFileRange: SyncFileRangeFunction? = lookUp("sync_file_range")

    private static func lookUp<F>(_ name: String) -> F? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
    }
}

/// Runs the receiver's per-file fsyncs one after another on a background queue; `wait()` returns once all are
/// done and throws the first failure.
final class BackgroundSyncer: @unchecked Sendable {
    private let queue = DispatchQueue(label: "trellis.store-copy.fsync")
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var failure: Error?

    func syncAndClose(_ file: ReceivedFile) {
        queue.async(group: group) { [self] in
            do { try file.sync() } catch { lock.withLock { if failure == nil { failure = error } } }
            file.close()
        }
    }

    func wait() throws {
        group.wait()
        if let failure = lock.withLock({ failure }) { throw failure }
    }
}

/// A file a store copy writes into, on a plain descriptor. Every `writebackBytes` written, the kernel is asked to
/// start writing them back without waiting (sync_file_range), so the final fsync finds little left to do and the
/// disk works while the network does.
final class ReceivedFile: @unchecked Sendable {
    static let writebackBytes: Int64 = 16 << 20
    let path: String
    private(set) var descriptor: Int32
    private var flushedUpTo: Int64 = 0

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DatabaseError(.storageDamageDetected, "Cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close() }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard !bytes.isEmpty else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DatabaseError(
                    .storageDamageDetected, "Writing \(path) failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        written(upTo: offset + Int64(bytes.count))
    }

    /// Bytes up to `end` are in the file: start writeback every `writebackBytes`.
    func written(upTo end: Int64) {
        guard end - flushedUpTo >= Self.writebackBytes else { return }
        if let syncFileRange = Splice.syncFileRange {
            // Starts writeback of the range, does not wait for it; failures surface in the fsync.
            _ = syncFileRange(descriptor, flushedUpTo, end - flushedUpTo, Splice.syncFileRangeWrite)
        } else {
            // Also starts writeback on Linux (and drops the pages once clean).
            _ = posix_fadvise(descriptor, off_t(flushedUpTo), off_t(end - flushedUpTo), POSIX_FADV_DONTNEED)
        }
        flushedUpTo = end
    }

    /// The file's length on disk (checked against the announced one before it is synced).
    func size() throws -> Int64 {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else {
            throw DatabaseError(.storageDamageDetected, "Cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        return Int64(st.st_size)
    }

    func sync() throws {
        guard fsync(descriptor) == 0 else {
            throw DatabaseError(.storageDamageDetected, "Cannot fsync \(path): \(String(cString: strerror(errno)))")
        }
    }

    func close() {
        guard descriptor >= 0 else { return }
        _ = Glibc.close(descriptor)
        descriptor = -1
    }
}

func fsyncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw DatabaseError(.storageDamageDetected, "Cannot open directory \(path)") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw DatabaseError(.storageDamageDetected, "Cannot fsync directory \(path)") }
}

import BoltCore
import BoltServer
import Foundation
import GraphValues
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A server reply, decoded.
enum Reply: Equatable, CustomStringConvertible {
    case success([String: Value])
    case record([Value])
    case ignored
    case failure([String: Value])

    var description: String {
        switch self {
        case .success(let m): return "SUCCESS \(m)"
        case .record(let v): return "RECORD \(v)"
        case .ignored: return "IGNORED"
        case .failure(let m): return "FAILURE \(m)"
        }
    }

    var metadata: [String: Value] {
        switch self {
        case .success(let m), .failure(let m): return m
        default: return [:]
        }
    }

    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A blocking Bolt client on a plain socket, speaking raw bytes, for end-to-end tests.
final class RawBoltClient {
    let fd: Int32
    var pending = ByteBuffer()
    var dechunker = BoltChunkDecoder(maxMessageBytes: 1 << 26)
    var options = PackStreamOptions(version: .v5_8)

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket failed") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw ClientError("connect failed: \(errno)")
        }
    }

    deinit { close(fd) }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ClientError("send failed: \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes; false on EOF or error (including timeout).
    func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        pending.writeBytes(chunk[0..<n])
        return true
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        while pending.readableBytes < count {
            guard fill() else { throw ClientError("connection closed while waiting for \(count) bytes") }
        }
        return pending.readBytes(length: count)!
    }

    func readReply() throws -> Reply {
        while true {
            if var body = try dechunker.next(from: &pending) {
                let decoder = PackStreamDecoder(options: options, allowGraphStructures: true)
                let (tag, count) = try decoder.readStructHeader(from: &body)
                var fields: [Value] = []
                for _ in 0..<count { fields.append(try decoder.readValue(from: &body)) }
                switch (tag, fields.first) {
                case (0x70, .map(let m)?): return .success(m)
                case (0x71, .list(let l)?): return .record(l)
                case (0x7E, nil): return .ignored
                case (0x7F, .map(let m)?): return .failure(m)
                default: throw ClientError("unexpected reply 0x\(String(tag, radix: 16)) \(fields)")
                }
            }
            guard fill() else { throw ClientError("connection closed while waiting for a reply") }
        }
    }

    func readReplies(_ n: Int) throws -> [Reply] {
        try (0..<n).map { _ in try readReply() }
    }

    /// True when the server closes the connection (EOF) within the socket timeout, after any pending replies.
    func waitForClose() -> Bool {
        pending.clear()
        while fill() { pending.clear() }
        let e = errno
        return e != EAGAIN && e != EWOULDBLOCK
    }

    // MARK: - Conveniences

    static let pythonHandshake = hexBytes("6060b017 000001ff 00080805 00020404 00000003")

    /// Manifest handshake picking `version`, then HELLO (+ LOGON from 5.1).
    func open(version: BoltVersion = .v5_8, user: String = "neo4j", password: String = "secret") throws -> Reply {
        try send(Self.pythonHandshake)
        let manifest = try readExactly(4)
        precondition(manifest == [0, 0, 1, 0xFF], "no manifest")
        let count = Int(try readExactly(1)[0])
        _ = try readExactly(4 * count + 1)
        try send([0, 0, version.minor, version.major, 0])
        options = PackStreamOptions(version: version)
        let auth: [String: Value] = ["scheme": .string("basic"), "principal": .string(user),
            "credentials": .string(password)]
        if version.hasLogon {
            try send(message(0x01, [.map(["user_agent": .string("raw-test/1")])]))
            let hello = try readReply()
            guard hello.isSuccess else { return hello }
            try send(message(0x6A, [.map(auth)]))
            let logon = try readReply()
            guard logon.isSuccess else { return logon }
            return hello
        } else {
            var extra = auth
            extra["user_agent"] = .string("raw-test/1")
            try send(message(0x01, [.map(extra)]))
            return try readReply()
        }
    }
}

/// One message, chunked.
func message(_ tag: UInt8, _ fields: [Value], options: PackStreamOptions = PackStreamOptions(version: .v5_8))
    -> [UInt8]
{
    var b = ByteBuffer()
    let start = BoltChunkEncoder.beginMessage(&b)
    PackStreamEncoder.writeStructHeader(tag: tag, fieldCount: fields.count, to: &b)
    for f in fields { PackStreamEncoder(options: options).write(f, to: &b) }
    BoltChunkEncoder.endMessage(&b, start: start)
    return Array(b.readableBytesView)
}

func run(_ query: String, _ params: [String: Value] = [:], _ extra: [String: Value] = [:]) -> [UInt8] {
    message(0x10, [.string(query), .map(params), .map(extra)])
}

func pull(_ n: Int64 = 1000, qid: Int64? = nil) -> [UInt8] {
    var extra: [String: Value] = ["n": .integer(n)]
    if let qid { extra["qid"] = .integer(qid) }
    return message(0x3F, [.map(extra)])
}

func discard(_ n: Int64 = -1) -> [UInt8] { message(0x2F, [.map(["n": .integer(n)])]) }
let resetMessage = message(0x0F, [])
let goodbyeMessage = message(0x02, [])
let commitMessage = message(0x12, [])
let rollbackMessage = message(0x13, [])
func begin(_ extra: [String: Value] = [:]) -> [UInt8] { message(0x11, [.map(extra)]) }

func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Starts a server on a free loopback port, runs `body`, and always stops it.
func withServer<T>(
    _ configuration: BoltServerConfiguration = BoltServerConfiguration(host: "127.0.0.1", port: 0),
    service: FakeDatabaseService = FakeDatabaseService(),
    _ body: (BoltServer, Int) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.port = 0
    configuration.eventLoopThreads = 1
    let server = BoltServer(configuration: configuration, service: service,
        logger: Logger(label: "bolt-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    try await server.start()
    do {
        let result = try await body(server, server.port!)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// Polls `condition` for up to `seconds`.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

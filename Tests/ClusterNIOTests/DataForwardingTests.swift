import ClusterCore
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ClusterNIO

/// Records calls and answers with canned results; `run` of "FAIL" throws a syntax error.
final class FakeForwardedHandler: ForwardedTransactionHandler {
    let calls = Mutex<[String]>([])
    let nextID = Mutex<UInt64>(41)

    func begin(user: String, metadata: [String: Value], timeout: Duration?) throws -> UInt64 {
        let id = nextID.withLock { value in
            value += 1
            return value
        }
        calls.withLock { $0.append("begin \(user) \(metadata["app"] ?? .null) \(timeout.map { "\($0)" } ?? "-") -> \(id)") }
        return id
    }

    func run(_ tx: UInt64, query: String, parameters: [String: Value]) throws -> ForwardedResult {
        calls.withLock { $0.append("run \(tx) \(query)") }
        if query == "FAIL" { throw DatabaseError(.syntaxError, "Invalid input 'FAIL'") }
        return ForwardedResult(
            keys: ["n", "list"],
            rows: [[parameters["x"] ?? .null, .list([.integer(1), .string("two"), .float(3.5), .null])],
                   [.map(["k": .boolean(true)]), .bytes([0, 255])]],
            statistics: ["nodes-created": 2, "properties-set": 3])
    }

    func commit(_ tx: UInt64) throws -> UInt64 {
        calls.withLock { $0.append("commit \(tx)") }
        return 1000 + tx
    }

    func rollback(_ tx: UInt64) throws {
        calls.withLock { $0.append("rollback \(tx)") }
    }
}

/// Runs `body` against a data port serving a fresh store (forwarded transactions go to `handler`), then stops the
/// port and removes the store, also when `body` throws.
func withDataPort(
    forwarded handler: (any ForwardedTransactionHandler)? = nil,
    _ body: (GraphDatabase, DataPortFixture) async throws -> Void
) async throws {
    let dirs = DataTestDirectory()
    defer { dirs.cleanup() }
    let db = try GraphDatabase(directory: dirs.path)
    defer { try? db.close() }
    let port = try await DataPortFixture.start(db, forwarded: handler)
    do {
        try await body(db, port)
    } catch {
        await port.stop()
        throw error
    }
    await port.stop()
}

@Suite("Data port: forwarded transactions and malformed input")
struct DataForwardingTests {
    @Test("a forwarded transaction round-trips values, statistics and the master's tx id; errors keep their code")
    func forwardedRoundTrip() async throws {
        let handler = FakeForwardedHandler()
        try await withDataPort(forwarded: handler) { master, port in
            port.server.setEpoch(Epoch(7), isMaster: true)
            let client = port.client

            let tx = try await client.forwardBegin(
                user: "alice", metadata: ["app": .string("shop")], timeout: .seconds(3), epoch: Epoch(7))
            #expect(tx == 42)
            let result = try await client.forwardRun(tx, query: "CREATE (n) RETURN n", parameters: ["x": .integer(-9)])
            #expect(result.keys == ["n", "list"])
            #expect(result.rows.count == 2)
            #expect(result.rows[0][0] == .integer(-9))
            #expect(result.rows[0][1] == .list([.integer(1), .string("two"), .float(3.5), .null]))
            #expect(result.rows[1] == [.map(["k": .boolean(true)]), .bytes([0, 255])])
            #expect(result.statistics == ["nodes-created": 2, "properties-set": 3])
            await #expect(throws: DatabaseError(.syntaxError, "Invalid input 'FAIL'")) {
                _ = try await client.forwardRun(tx, query: "FAIL", parameters: [:])
            }
            #expect(try await client.forwardCommit(tx) == 1042)

            let other = try await client.forwardBegin(user: "bob", metadata: [:], timeout: nil, epoch: Epoch(7))
            try await client.forwardRollback(other)
            #expect(
                handler.calls.withLock { $0 } == [
                    "begin alice string(\"shop\") 3.0 seconds -> 42", "run 42 CREATE (n) RETURN n", "run 42 FAIL",
                    "commit 42", "begin bob null - -> 43", "rollback 43",
                ])
        }
    }

    @Test("forwarding to a member that is not the master, or with an old epoch, is refused without a call")
    func forwardingNeedsTheMaster() async throws {
        let handler = FakeForwardedHandler()
        try await withDataPort(forwarded: handler) { db, port in
            port.server.setEpoch(Epoch(4), isMaster: false)
            await #expect(throws: DataPortError.notMaster) {
                _ = try await port.client.forwardBegin(user: "a", metadata: [:], timeout: nil, epoch: Epoch(4))
            }
            port.server.setEpoch(Epoch(5), isMaster: true)
            await #expect(throws: DataPortError.staleEpoch(sent: Epoch(4), known: Epoch(5))) {
                _ = try await port.client.forwardBegin(user: "a", metadata: [:], timeout: nil, epoch: Epoch(4))
            }
            #expect(handler.calls.withLock { $0 }.isEmpty)
            #expect(DataPortError.notMaster.databaseError.code == .databaseUnavailable)
            // Without an expected epoch, whichever epoch the master is in will do; a non-master still refuses.
            let tx = try await port.client.forwardBegin(user: "a", metadata: [:], timeout: nil)
            try await port.client.forwardRollback(tx)
            port.server.setEpoch(Epoch(6), isMaster: false)
            await #expect(throws: DataPortError.notMaster) {
                _ = try await port.client.forwardBegin(user: "a", metadata: [:], timeout: nil)
            }
        }
    }

    @Test("transactions left open by a connection that drops are rolled back on the master")
    func droppedConnectionRollsBack() async throws {
        let handler = FakeForwardedHandler()
        try await withDataPort(forwarded: handler) { db, port in
            port.server.setEpoch(Epoch(1), isMaster: true)
            let tx = try await port.client.forwardBegin(user: "a", metadata: [:], timeout: nil, epoch: Epoch(1))
            await port.client.close()
            // Bounded wait for the asynchronous rollback.
            var waited = 0
            while !handler.calls.withLock({ $0.contains("rollback \(tx)") }) && waited < 2000 {
                try await Task.sleep(for: .milliseconds(5))
                waited += 1
            }
            #expect(handler.calls.withLock { $0.contains("rollback \(tx)") })
        }
    }

    @Test("malformed frames get an error frame: a bad request keeps the connection, bad framing closes it")
    func malformedFrames() async throws {
        try await withDataPort { db, port in
            let socket = try RawSocket(port: port.server.boundPort)
            defer { socket.close() }

            // Unknown request kind, then a pull whose body is cut short, then a valid store-info request: two errors
            // and an answer on the same connection.
            socket.send(rawFrame(version: DataWire.version, kind: 0x42, id: 7, body: []))
            socket.send(rawFrame(version: DataWire.version, kind: 0x01, id: 8, body: [0, 0, 0]))
            socket.send(rawFrame(version: DataWire.version, kind: 0x09, id: 9, body: []))
            var replies: [UInt64: (kind: UInt8, body: [UInt8])] = [:]
            for _ in 0..<3 {
                let reply = try #require(socket.readFrame())
                replies[reply.id] = (reply.kind, reply.body)
            }
            #expect(replies[7]?.kind == 0xFF)
            #expect(replies[8]?.kind == 0xFF)
            #expect(replies[9]?.kind == 0x8B)
            // Protocol violations reach the client as Neo.ClientError.Request.InvalidFormat.
            let truncated = DataWireError.decode(ByteBuffer(bytes: replies[8]!.body)) as? DatabaseError
            #expect(truncated?.code == .invalidFormat)
            #expect(truncated?.message.contains("frame ends inside") == true, "\(String(describing: truncated))")
            let unknown = DataWireError.decode(ByteBuffer(bytes: replies[7]!.body)) as? DatabaseError
            #expect(unknown?.code == .invalidFormat)
            #expect(unknown?.message.contains("unknown request kind 66") == true, "\(String(describing: unknown))")

            // A frame length below the envelope: error frame, then the server closes.
            socket.send([0, 0, 0, 2, DataWire.version, 1])
            let last = try #require(socket.readFrame())
            #expect(last.kind == 0xFF && last.id == 0)
            #expect(socket.readFrame() == nil, "connection closed")

            // Another connection with a wrong version gets an error naming it.
            let other = try RawSocket(port: port.server.boundPort)
            defer { other.close() }
            other.send(rawFrame(version: 9, kind: 0x09, id: 1, body: []))
            let refused = try #require(other.readFrame())
            #expect(refused.kind == 0xFF)
            #expect("\(DataWireError.decode(ByteBuffer(bytes: refused.body)))".contains("version 9"))

            // The server is still fine for well-behaved clients.
            let info = try await port.client.storeInfo()
            #expect(info.storeID == db.storeID)
        }
    }
}

func rawFrame(version: UInt8, kind: UInt8, id: UInt64, body: [UInt8]) -> [UInt8] {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(10 + body.count))
    buffer.writeInteger(version)
    buffer.writeInteger(kind)
    buffer.writeInteger(id)
    buffer.writeBytes(body)
    return Array(buffer.readableBytesView)
}

/// A blocking loopback TCP socket for sending hand-made bytes.
final class RawSocket {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw DataPortError.unavailable("connect failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            if n <= 0 { return nil }
            done += n
        }
        return bytes
    }

    /// The next frame, or nil at end of stream.
    func readFrame() -> (kind: UInt8, id: UInt64, body: [UInt8])? {
        guard let lengthBytes = readExactly(4) else { return nil }
        let length = lengthBytes.reduce(0) { $0 << 8 | Int($1) }
        guard length >= 10, let rest = readExactly(length) else { return nil }
        let id = rest[2..<10].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (rest[1], id, Array(rest[10...]))
    }

    func close() { Glibc.close(fd) }
}

import Dispatch
import Foundation
import GraphKernel
import GraphValues
import NIOCore
import NIOPosix
import Testing

@testable import ClusterNIO

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot data port that answers the first request on the first connection with canned bytes, then closes:
/// stands in for a master whose store copy stream is cut or damaged.
private final class CannedStoreCopyServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private let holdOpen: Bool

    /// With `holdOpen` the connection stays open after the answer until `finish()`.
    init(answer: [UInt8], holdOpen: Bool = false) throws {
        self.holdOpen = holdOpen
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw DataPortError.unavailable("bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        let done = self.done
        let release = self.release
        Thread {
            defer { done.signal() }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { Glibc.close(connection) }
            // The request frame: length, then the rest.
            var request = [UInt8](repeating: 0, count: 64)
            _ = request.withUnsafeMutableBytes { recv(connection, $0.baseAddress, 4 + DataWire.envelopeBytes, 0) }
            var sent = 0
            while sent < answer.count {
                let n = answer.withUnsafeBytes {
                    Glibc.send(connection, $0.baseAddress! + sent, answer.count - sent, Int32(MSG_NOSIGNAL))
                }
                if n <= 0 { return }
                sent += n
            }
            if holdOpen { release.wait() }
        }.start()
    }

    func finish() {
        if holdOpen { release.signal() }
        done.wait()
        Glibc.close(listener)
    }
}

private func frame(_ kind: DataWire.Kind, _ body: (inout ByteBuffer) -> Void = { _ in }) -> [UInt8] {
    let buffer = DataWire.frame(ByteBufferAllocator(), kind, requestID: StoreCopyReceiver.requestID, body)
    return Array(buffer.readableBytesView)
}

private func fileStart(_ name: String, _ size: UInt64) -> [UInt8] {
    frame(.fileStart) {
        $0.writeWireString(name)
        $0.writeInteger(size)
    }
}

private func fileEnd(_ name: String, _ size: UInt64) -> [UInt8] {
    frame(.fileEnd) {
        $0.writeWireString(name)
        $0.writeInteger(size)
    }
}

private func copyEnd(files: UInt32) -> [UInt8] {
    frame(.storeCopyEnd) {
        $0.writeInteger(Int64(7))
        $0.writeInteger(files)
    }
}

/// A damaged store copy stream and the words its error must contain.
struct DamagedStream: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let bytes: [UInt8]
    let expected: String
}

private let body = [UInt8](repeating: 0xAB, count: 1000)

private let damagedStreams: [DamagedStream] = [
    DamagedStream(
        testDescription: "connection ends inside a file body",
        bytes: fileStart("neostore.nodestore.db", 1000) + body.prefix(500), expected: "ended inside"),
    DamagedStream(
        testDescription: "body longer than announced",
        bytes: fileStart("neostore.nodestore.db", 900) + body + fileEnd("neostore.nodestore.db", 900),
        expected: "outside"),
    DamagedStream(
        testDescription: "body shorter than announced",
        bytes: fileStart("neostore.nodestore.db", 1000) + body.prefix(990) + fileEnd("neostore.nodestore.db", 1000)
            + fileStart("neostore", 10) + body.prefix(10) + fileEnd("neostore", 10) + copyEnd(files: 2),
        expected: "neostore.nodestore.db"),
    DamagedStream(
        testDescription: "end frame naming another length",
        bytes: fileStart("neostore.nodestore.db", 1000) + body + fileEnd("neostore.nodestore.db", 999),
        expected: "ended as"),
    DamagedStream(
        testDescription: "unknown frame between files",
        bytes: fileStart("neostore.nodestore.db", 1000) + body + fileEnd("neostore.nodestore.db", 1000)
            + frame(.pushAck) { $0.writeInteger(Int64(1)) },
        expected: "unexpected frame kind"),
    DamagedStream(
        testDescription: "a path instead of a store file name",
        bytes: fileStart("../neostore", 10) + body.prefix(10) + fileEnd("../neostore", 10),
        expected: "unacceptable file name"),
    DamagedStream(
        testDescription: "stream ends after the files, without its end frame",
        bytes: fileStart("neostore", 10) + body.prefix(10) + fileEnd("neostore", 10), expected: "ended inside"),
    DamagedStream(
        testDescription: "end frame counting files that never came",
        bytes: fileStart("neostore", 10) + body.prefix(10) + fileEnd("neostore", 10) + copyEnd(files: 3),
        expected: "announced 3"),
]

@Suite("Store copy stream: damaged streams are rejected, nothing is installed")
struct StoreCopyStreamTests {
    @Test(
        "a damaged or truncated store copy stream fails the copy and leaves no store behind",
        arguments: damagedStreams)
    func damagedStreamIsRejected(_ stream: DamagedStream) async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let server = try CannedStoreCopyServer(answer: stream.bytes)
        let client = DataClient(
            address: "127.0.0.1:\(server.port)", group: MultiThreadedEventLoopGroup.singleton, logger: .init(label: "test"),
            requestTimeout: .seconds(10))
        await #expect {
            _ = try await client.copyStore(into: dirs.sub("slave"))
        } throws: { error in
            "\(error)".contains(stream.expected)
        }
        await client.close()
        server.finish()
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dirs.sub("slave"))) ?? []
        #expect(left.filter { $0.hasPrefix("neostore") } == [], "nothing installed")
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: dirs.sub("slave") + "/temp-copy")) ?? []
        #expect(staging == [], "staging directory removed")
    }

    @Test("closing the client aborts a store copy that is waiting for data; nothing is installed")
    func closeAbortsCopy() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        // A master that announces a file and then sends nothing, keeping the connection open.
        let server = try CannedStoreCopyServer(answer: fileStart("neostore.nodestore.db", 1 << 20), holdOpen: true)
        let client = DataClient(
            address: "127.0.0.1:\(server.port)", group: MultiThreadedEventLoopGroup.singleton,
            logger: .init(label: "test"), requestTimeout: .seconds(600))
        let copy = Task { try await client.copyStore(into: dirs.sub("slave")) }
        // Bounded polling until the receiver has created the announced file (it is then blocked reading its body).
        // The bound is generous because it only matters when the test fails: with the whole suite running in
        // parallel on 2 cores, the copy task can wait a long time for a thread of the concurrency pool before it
        // starts its receiver (a 30 s bound once ran out on a loaded machine).
        let deadline = ContinuousClock.now + .seconds(300)
        func receiving() -> Bool {
            let root = dirs.sub("slave") + "/temp-copy"
            let staging = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            return staging.contains {
                ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + $0)) ?? []).contains(
                    "neostore.nodestore.db")
            }
        }
        while !receiving(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(receiving())
        await client.close()
        await #expect {
            _ = try await copy.value
        } throws: { error in
            "\(error)".contains("ended inside")
        }
        server.finish()
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dirs.sub("slave"))) ?? []
        #expect(left.filter { $0.hasPrefix("neostore") } == [], "nothing installed")
    }

    @Test("without splice (read + pwrite through one buffer) a copy is identical to the master")
    func copyWithoutSplice() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        try commitChain(master, count: 150)
        let port = try await DataPortFixture.start(master)
        Splice.disabled.store(true, ordering: .relaxed)
        let copied: TxID
        do {
            copied = try await port.client.copyStore(into: dirs.sub("slave"))
            Splice.disabled.store(false, ordering: .relaxed)
        } catch {
            Splice.disabled.store(false, ordering: .relaxed)
            throw error
        }
        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? slave.close() }
        #expect(slave.lastCommittedTxID == copied)
        #expect(copied == master.lastCommittedTxID)
        #expect(slave.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try ConsistencyChecker(database: slave).check().isConsistent)
        #expect(try graphDump(slave) == graphDump(master))
        await port.stop()
    }

    @Test("a store copy that is not the first request on its connection is refused with an error")
    func storeCopyNeedsItsOwnConnection() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        let port = try await DataPortFixture.start(master)
        let socket = try RawSocket(port: port.server.boundPort)
        defer { socket.close() }
        socket.send(rawFrame(version: DataWire.version, kind: DataWire.Kind.storeInfo.rawValue, id: 1, body: []))
        let info = try #require(socket.readFrame())
        #expect(info.kind == DataWire.Kind.storeInfoReply.rawValue)
        socket.send(rawFrame(version: DataWire.version, kind: DataWire.Kind.storeCopy.rawValue, id: 2, body: []))
        let refused = try #require(socket.readFrame())
        #expect(refused.kind == DataWire.Kind.error.rawValue && refused.id == 2)
        #expect("\(DataWireError.decode(ByteBuffer(bytes: refused.body)))".contains("connection of its own"))
        #expect(socket.readFrame() == nil, "connection closed")
        await port.stop()
    }
}

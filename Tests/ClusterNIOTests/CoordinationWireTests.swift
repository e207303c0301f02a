import ClusterCore
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing
@testable import ClusterNIO

/// The coordination frame format, and what a member does with bytes that are not a well-formed frame from a member
/// of its own cluster: refuse, log, close — never crash, never let it disturb the election.
@Suite("Coordination: wire format and refusals", .serialized)
struct CoordinationWireTests {
    private func roundTrip(_ frame: CoordinationFrame) throws -> CoordinationFrame {
        var buffer = ByteBuffer()
        frame.encode(into: &buffer)
        let length = buffer.readInteger(as: UInt32.self)
        #expect(length.map { Int($0) } == buffer.readableBytes)
        return try CoordinationFrameDecoder.parse(&buffer)
    }

    @Test("every frame kind survives encode and decode unchanged")
    func roundTrips() throws {
        let hello = CoordinationHello(
            clusterName: "neo4j.ha", member: MemberID(3), kind: .data(slaveOnly: true), incarnation: .max,
            addresses: MemberAddresses(coordination: "10.0.0.3:5001", data: "10.0.0.3:6001", bolt: nil,
                                       http: "ünïcode.example:7474")
        )
        let heartbeat = Heartbeat(epoch: Epoch(7), isMaster: true, lastCommitted: LogPosition(lastCommittedTx: 42),
                                  suspects: [MemberID(1), MemberID(2)], sentAt: .milliseconds(1234),
                                  mayStand: false, lastEpoch: Epoch(6))
        let request = VoteRequest(
            epoch: Epoch(8),
            credentials: ElectionCredentials(member: MemberID(2), lastCommitted: LogPosition(lastCommittedTx: 9),
                                             isCurrentMaster: true, lastEpoch: Epoch(5)),
            sentAt: .nanoseconds(987_654_321)
        )
        let frames: [CoordinationFrame] = [
            .hello(hello),
            .hello(CoordinationHello(clusterName: "", member: MemberID(-5), kind: .arbiter, incarnation: 0,
                                     addresses: MemberAddresses(coordination: "h:1"))),
            .message(.heartbeat(heartbeat), role: .master),
            .message(.heartbeatAck(epoch: Epoch(7), echoedSentAt: .seconds(3)), role: .unknown),
            .message(.staleEpoch(current: Epoch(UInt64.max)), role: .unknown),
            .message(.voteRequest(request), role: .unknown),
            .message(.voteResponse(epoch: Epoch(8), granted: true, echoedSentAt: .microseconds(5)), role: .unknown),
            .refused(reason: "go away"),
        ]
        for frame in frames {
            #expect(try roundTrip(frame) == frame)
        }
    }

    @Test("the decoder reassembles frames fed one byte at a time and splits frames that arrive together")
    func decoderReassembles() throws {
        let frames: [CoordinationFrame] = [
            .hello(CoordinationHello(clusterName: "neo4j.ha", member: MemberID(2), kind: .data(slaveOnly: false),
                                     incarnation: 77, addresses: MemberAddresses(coordination: "127.0.0.1:5002"))),
            .message(.heartbeatAck(epoch: Epoch(3), echoedSentAt: .milliseconds(9)), role: .unknown),
            .message(.resign(epoch: Epoch(3)), role: .unknown),
        ]
        var all = ByteBuffer()
        for frame in frames { frame.encode(into: &all) }

        let dripped = EmbeddedChannel(handler: ByteToMessageHandler(CoordinationFrameDecoder()))
        for byte in all.readableBytesView {
            try dripped.writeInbound(ByteBuffer(bytes: [byte]))
        }
        var decoded: [CoordinationFrame] = []
        while let frame = try dripped.readInbound(as: CoordinationFrame.self) { decoded.append(frame) }
        #expect(decoded == frames)
        _ = try dripped.finish()

        let together = EmbeddedChannel(handler: ByteToMessageHandler(CoordinationFrameDecoder()))
        try together.writeInbound(all)
        decoded = []
        while let frame = try together.readInbound(as: CoordinationFrame.self) { decoded.append(frame) }
        #expect(decoded == frames)
        _ = try together.finish()
    }

    @Test("a length prefix above the limit is an error before any payload arrives")
    func oversizedLengthRejectedEarly() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(CoordinationFrameDecoder()))
        var header = ByteBuffer()
        header.writeInteger(UInt32(CoordinationWire.maximumFrameLength + 1))
        #expect(throws: CoordinationWireError.self) { try channel.writeInbound(header) }
        _ = try? channel.finish()
        // The largest allowed length is waited for, not refused.
        let fine = EmbeddedChannel(handler: ByteToMessageHandler(CoordinationFrameDecoder()))
        var limit = ByteBuffer()
        limit.writeInteger(UInt32(CoordinationWire.maximumFrameLength))
        try fine.writeInbound(limit)
        #expect(try fine.readInbound(as: CoordinationFrame.self) == nil)
        _ = try? fine.finish()
    }

    @Test("overlong strings are cut to the limit without splitting a character")
    func longStringsAreBounded() throws {
        let long = String(repeating: "é", count: CoordinationWire.maximumStringBytes)
        guard case .refused(let reason) = try roundTrip(.refused(reason: long)) else {
            Issue.record("not a refusal")
            return
        }
        #expect(reason.utf8.count <= CoordinationWire.maximumStringBytes)
        #expect(reason.utf8.count >= CoordinationWire.maximumStringBytes - 1)
        #expect(reason.allSatisfy { $0 == "é" })
    }

    @Test("malformed frame bodies are rejected with a reason")
    func malformedBodies() {
        func body(_ bytes: [UInt8]) -> String? {
            var buffer = ByteBuffer(bytes: bytes)
            do {
                _ = try CoordinationFrameDecoder.parse(&buffer)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(body([9, 2])?.contains("unsupported coordination protocol version 9") == true)
        #expect(body([1, 99])?.contains("unknown frame type 99") == true)
        #expect(body([1])?.contains("truncated") == true)
        #expect(body([1, 4, 0, 0])?.contains("truncated") == true)
        // staleEpoch with a byte too many.
        #expect(body([1, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF])?.contains("trailing") == true)
        // A refusal whose string claims more bytes than the limit.
        #expect(body([1, 7, 0xFF, 0xFF])?.contains("exceeds") == true)
        // Invalid UTF-8.
        #expect(body([1, 7, 0, 2, 0xC3, 0x28])?.contains("UTF-8") == true)
        // voteResponse with a "boolean" of 7.
        #expect(body([1, 6, 0, 0, 0, 0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0])?.contains("boolean") == true)
        // Unknown member kind in a hello.
        #expect(body([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9])?.contains("member kind") == true)
    }

    @Test("foreign clients and malformed frames are refused, logged and closed; the cluster carries on")
    func malformedFramesOverTCP() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 3)])
            var master: Int?
            #expect(await eventually { master = cluster.stableMaster(); return master != nil })
            let port = cluster.ports[0]

            func frame(_ body: [UInt8]) -> [UInt8] {
                let length = UInt32(body.count)
                return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                        UInt8(length & 0xFF)] + body
            }
            // An HTTP client: "GET " reads as a length far above the limit.
            let http = try await RawClient.exchange(port: port, group: cluster.group,
                                                    bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(http.closed)
            #expect(http.received.isEmpty)
            // A future protocol version.
            #expect(try await RawClient.exchange(port: port, group: cluster.group, bytes: frame([2, 1])).closed)
            // An unknown frame type.
            #expect(try await RawClient.exchange(port: port, group: cluster.group, bytes: frame([1, 200])).closed)
            // A hello whose string runs past the frame.
            #expect(try await RawClient.exchange(port: port, group: cluster.group,
                                                 bytes: frame([1, 1, 0, 50, 65])).closed)
            // A valid heartbeat before any hello: refused with a reason.
            var early = ByteBuffer()
            CoordinationFrame.message(.staleEpoch(current: Epoch(99)), role: .unknown).encode(into: &early)
            let beforeHello = try await RawClient.exchange(port: port, group: cluster.group,
                                                           bytes: Array(early.readableBytesView))
            #expect(beforeHello.closed)
            #expect(beforeHello.refusal?.contains("before its hello") == true)
            // A member of another cluster.
            var foreign = ByteBuffer()
            CoordinationFrame.hello(CoordinationHello(
                clusterName: "other.cluster", member: MemberID(9), kind: .data(slaveOnly: false), incarnation: 1,
                addresses: MemberAddresses(coordination: "127.0.0.1:1")
            )).encode(into: &foreign)
            let other = try await RawClient.exchange(port: port, group: cluster.group,
                                                     bytes: Array(foreign.readableBytesView))
            #expect(other.closed)
            #expect(other.refusal?.contains("belongs to cluster 'other.cluster'") == true)
            // A hello from an address not in ha.initial_hosts.
            var stranger = ByteBuffer()
            CoordinationFrame.hello(CoordinationHello(
                clusterName: cluster.clusterName, member: MemberID(9), kind: .data(slaveOnly: false),
                incarnation: 1, addresses: MemberAddresses(coordination: "127.0.0.1:1")
            )).encode(into: &stranger)
            let notListed = try await RawClient.exchange(port: port, group: cluster.group,
                                                         bytes: Array(stranger.readableBytesView))
            #expect(notListed.refusal?.contains("is not in ha.initial_hosts") == true)
            // A client that connects and says nothing is cut off (after 2 s).
            let silent = try await RawClient.exchange(port: port, group: cluster.group, bytes: [])
            #expect(silent.closed)
            // Random garbage, in many shapes.
            var generator = SplitMix64(seed: 42)
            for round in 0..<20 {
                let count = Int(generator.next() % 200) + 1
                var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                if round % 2 == 0 { bytes = frame(bytes) }
                _ = try await RawClient.exchange(port: port, group: cluster.group, bytes: bytes,
                                                 wait: .milliseconds(100))
            }

            #expect(await eventually { cluster.log.contains("malformed frame") })
            #expect(await eventually { cluster.log.contains("unsupported coordination protocol version 2") })
            #expect(await eventually { cluster.log.contains("is not in ha.initial_hosts") })
            #expect(await eventually { cluster.log.contains("no hello within") })
            // Nobody was hurt: still one master, everyone following it.
            #expect(await eventually { cluster.stableMaster() != nil })
            #expect(cluster.services[0]!.snapshot.members.count == 3)
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }
}

/// A bare TCP client: sends bytes, collects what comes back, reports whether the server closed the connection.
enum RawClient {
    struct Outcome {
        var received: [UInt8]
        var closed: Bool

        /// The reason of a refusal frame, if the server sent one.
        var refusal: String? {
            var buffer = ByteBuffer(bytes: received)
            guard let length = buffer.readInteger(as: UInt32.self), var body = buffer.readSlice(length: Int(length)),
                  case .refused(let reason) = try? CoordinationFrameDecoder.parse(&body)
            else { return nil }
            return reason
        }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            bytes.withLock { $0 += buffer.readableBytesView }
        }
    }

    /// Waits up to `wait` (the server closes refused connections at once; the bound only matters on failure).
    static func exchange(port: Int, group: any EventLoopGroup, bytes: [UInt8], wait: Duration = .seconds(10))
        async throws -> Outcome
    {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        let closed = await eventually(within: wait) { !channel.isActive }
        if !closed { try? await channel.close() }
        return Outcome(received: collector.bytes.withLock { $0 }, closed: closed)
    }
}

import BoltCore
import GraphValues
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import BoltServer

/// Replies to messages that arrive in one read leave in one write. On an `EmbeddedChannel` the queue runs inline,
/// so a pump started by the RUN alone would answer and flush it before the PULL is queued: each flush is one
/// outbound buffer here, and one more TCP segment and client wake-up in production.
@Suite("Pipelined replies")
struct PipelinedRepliesTests {
    func replyWrites(eventLoopReads: Bool, _ pipelined: [UInt8]) throws -> (writes: Int, tags: [UInt8]) {
        var config = BoltServerConfiguration()
        config.eventLoopReads = eventLoopReads
        let shared = BoltServerShared(configuration: config, service: FakeDatabaseService(),
            logger: Logger(label: "pipelined", factory: { _ in SwiftLogNoOpLogHandler() }), inlineExecution: true)
        let channel = EmbeddedChannel(handler: BoltChannelHandler(shared: shared))
        defer { _ = try? channel.finish() }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var opening = RawBoltClient.pythonHandshake + [0, 0, 8, 5, 0]
        opening += message(0x01, [.map(["user_agent": .string("pipelined-test")])])
        opening += message(0x6A, [.map(["scheme": .string("basic"), "principal": .string("neo4j"),
            "credentials": .string("secret")])])
        try channel.writeInbound(ByteBuffer(bytes: opening))
        channel.embeddedEventLoop.run()
        while try channel.readOutbound(as: ByteBuffer.self) != nil {}
        try channel.writeInbound(ByteBuffer(bytes: pipelined))
        channel.embeddedEventLoop.run()
        var writes = 0
        var bytes = ByteBuffer()
        while var out = try channel.readOutbound(as: ByteBuffer.self) {
            writes += 1
            bytes.writeBuffer(&out)
        }
        var dechunker = BoltChunkDecoder(maxMessageBytes: 1 << 20)
        var tags: [UInt8] = []
        while let body = try dechunker.next(from: &bytes) { tags.append(body.getInteger(at: body.readerIndex + 1)!) }
        return (writes, tags)
    }

    @Test("an auto-commit RUN + PULL answered on the worker is one write")
    func autoCommitOnWorker() throws {
        for eventLoopReads in [false, true] {
            let (writes, tags) = try replyWrites(eventLoopReads: eventLoopReads, run("CREATE") + pull())
            #expect(tags == [0x70, 0x70], "event-loop reads \(eventLoopReads): \(tags)")
            #expect(writes == 1, "event-loop reads \(eventLoopReads)")
        }
    }

    @Test("BEGIN + RUN + PULL sent together (a driver's first statement of a transaction) are one write")
    func transactionBatch() throws {
        let (writes, tags) = try replyWrites(eventLoopReads: true, begin() + run("ROWS 3") + pull())
        #expect(tags == [0x70, 0x70, 0x71, 0x71, 0x71, 0x70], "\(tags)")
        #expect(writes == 1)
    }
}

import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ClusterNIO

/// Accepts nothing and reads nothing: the connection stays open while its receive buffer is full.
private final class NeverReads: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
}

@Suite("Store copy: a receiver that stops reading")
struct StoreCopyStallTests {
    @Test("a copy whose receiver never reads is abandoned after the stall time-out: logged, log unpinned")
    func stalledReceiverIsAbandoned() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        // Every commit rotates the log and nothing is retained, so a checkpoint prunes whatever is not pinned.
        let master = try openPruningMaster(dirs)
        defer { try? master.close() }
        // More store than the socket buffers and the chunks the server queues (4 × 4 MiB) can hold, so the copy
        // really blocks on the receiver instead of fitting into buffers and completing.
        let big = String(repeating: "x", count: 1 << 20)
        for i in 0..<40 {
            try master.write { tx in
                _ = try tx.createNode(labels: ["Blob"], properties: ["i": .integer(Int64(i)), "s": .string(big)])
            }
        }
        let pinned = master.lastCommittedTxID

        let log = CapturedLog()
        var logger = Logger(label: "store-copy-stall-test") { _ in CapturingLogHandler(log: log) }
        logger.logLevel = .info
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let traffic = DataPortTraffic()
        let server = DataServer(
            database: master, group: group, logger: logger, forwarded: nil, traffic: traffic,
            storeCopyStallTimeout: .seconds(1))
        try await server.start(host: "127.0.0.1", port: 0)
        let client = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NeverReads()) }
            }
            .connect(host: "127.0.0.1", port: server.boundPort).get()
        do {
            try await client.writeAndFlush(
                DataWire.frame(client.allocator, .storeCopy, requestID: 1) { _ in }).get()

            // Bounded polling: the copy starts streaming (the log is pinned from then on), then is given up.
            let deadline = ContinuousClock.now + .seconds(60)
            while traffic.snapshot.masterStoreBytes == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(traffic.snapshot.masterStoreBytes > 0)
            while !log.contains("Abandoned a store copy"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(log.contains("Abandoned a store copy"))
            #expect(!log.contains("Served a store copy"))
            // Well short of the whole store: the copy stopped because nobody read it.
            #expect(traffic.snapshot.masterStoreBytes < 40 << 20)

            // The source is closed soon after (the queued writes fail with the connection): retention prunes the
            // transactions the copy had pinned again.
            var pruned = false
            while !pruned, ContinuousClock.now < deadline {
                try commitChain(master, count: 1, tag: "after")
                try master.checkpoint()
                do {
                    _ = try master.committedTransactions(from: pinned).next()
                    try await Task.sleep(for: .milliseconds(50))
                } catch is TransactionLogError {
                    pruned = true
                }
            }
            #expect(pruned)
        } catch {
            Issue.record(error)
        }
        try? await client.close()
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

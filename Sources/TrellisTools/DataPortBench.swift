import ArgumentParser
import ClusterCore
import ClusterNIO
import Dispatch
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOPosix

/// Throughput of the HA data port over loopback, in-process: a slave pulling the master's log, the master pushing
/// transactions one at a time (each waiting for the slave's durable acknowledgement, as `ha.tx_push_factor=1` with
/// strict acks does), and a full store copy. Results: docs/performance.md, "HA data port".
struct DataPortBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data-port", abstract: "Pull, push and store-copy throughput of the HA data port.")

    @Option(help: "Transactions committed on the master.")
    var transactions: Int = 2000

    @Option(help: "Nodes created per transaction (each with 3 properties, linked to the previous one).")
    var nodesPerTransaction: Int = 10

    @Option(help: "Scratch directory (a temporary one when omitted; removed afterwards).")
    var directory: String?

    func run() throws {
        let root = directory ?? NSTemporaryDirectory() + "trellis-bench-data-port-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let master = try GraphDatabase(directory: root + "/master")
        defer { try? master.close() }
        var previous: NodeID?
        for t in 0..<transactions {
            previous = try master.write { tx in
                var last = previous
                for i in 0..<nodesPerTransaction {
                    let node = try tx.createNode(
                        labels: ["Item"],
                        properties: [
                            "t": .integer(Int64(t)), "i": .integer(Int64(i)), "name": .string("item-\(t)-\(i)"),
                        ])
                    if let last { try tx.createRelationship(from: last, to: node, type: "NEXT") }
                    last = node
                }
                return last
            }
        }
        var payloadBytes = 0
        var all: [CommittedTransaction] = []
        try master.committedTransactions(from: TxID(2)).forEach {
            payloadBytes += $0.payload.count
            all.append($0)
        }
        let box = DataPortBenchResults()
        let done = DispatchSemaphore(value: 0)
        let transactionsToShip = all
        Task {
            do {
                try await Self.measure(master: master, all: transactionsToShip, root: root, into: box)
            } catch {
                box.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = box.error { throw error }
        let megabytes = Double(payloadBytes) / 1_048_576
        print("transactions: \(all.count), log payload: \(String(format: "%.1f", megabytes)) MiB")
        print(String(format: "pull:  %.0f tx/s, %.1f MiB/s (batches of 100, applied on the slave)",
                     Double(all.count) / box.pullSeconds, megabytes / box.pullSeconds))
        print(String(format: "push:  %.0f tx/s, mean %.0f µs per durable acknowledgement (one at a time)",
                     Double(box.pushed) / box.pushSeconds, box.pushSeconds / Double(box.pushed) * 1e6))
        print(String(format: "store copy: %.1f MiB in %.2f s (%.1f MiB/s)",
                     Double(box.copyBytes) / 1_048_576, box.copySeconds,
                     Double(box.copyBytes) / 1_048_576 / box.copySeconds))
    }

    private static func measure(master: GraphDatabase, all: [CommittedTransaction], root: String, into box: DataPortBenchResults)
        async throws
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = DataServer(database: master, group: group, logger: logger, forwarded: nil)
        try await server.start(host: "127.0.0.1", port: 0)
        let client = DataClient(address: "127.0.0.1:\(server.boundPort)", group: group, logger: logger)

        let pulled = try GraphDatabase(directory: root + "/pulled")
        var start = DispatchTime.now().uptimeNanoseconds
        try await client.catchUp(pulled, batchLimit: 100)
        box.pullSeconds = seconds(since: start)
        try pulled.close()

        let pushed = try GraphDatabase(directory: root + "/pushed")
        let slaveServer = DataServer(database: pushed, group: group, logger: logger, forwarded: nil)
        try await slaveServer.start(host: "127.0.0.1", port: 0)
        slaveServer.setEpoch(Epoch(1), isMaster: false)
        let slaveClient = DataClient(address: "127.0.0.1:\(slaveServer.boundPort)", group: group, logger: logger)
        let pushCount = min(all.count, 1000)
        start = DispatchTime.now().uptimeNanoseconds
        for transaction in all.prefix(pushCount) { try await slaveClient.push(transaction, epoch: Epoch(1)) }
        box.pushSeconds = seconds(since: start)
        box.pushed = pushCount
        await slaveClient.close()
        await slaveServer.stop()
        try pushed.close()

        start = DispatchTime.now().uptimeNanoseconds
        _ = try await client.copyStore(into: root + "/copied")
        box.copySeconds = seconds(since: start)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: root + "/copied")) ?? []
        box.copyBytes = files.reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/copied/" + name)
            return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
        }
        await client.close()
        await server.stop()
        try await group.shutdownGracefully()
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

private final class DataPortBenchResults: @unchecked Sendable {
    var pullSeconds = 0.0
    var pushSeconds = 0.0
    var pushed = 0
    var copySeconds = 0.0
    var copyBytes = 0
    var error: Error?
}

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
/// strict acks does), a full store copy next to the disk's sequential write rate measured in the same directory, and
/// replication lag with several writers committing on a master whose commit hook pushes every commit to one slave
/// (`ha.tx_push_factor=1`). Results: docs/performance.md, "HA data port".
struct DataPortBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data-port", abstract: "Pull, push and store-copy throughput of the HA data port.")

    @Option(help: "Transactions committed on the master.")
    var transactions: Int = 2000

    @Option(help: "Nodes created per transaction (each with 3 properties, linked to the previous one).")
    var nodesPerTransaction: Int = 10

    @Option(help: "Scratch directory (a temporary one when omitted; removed afterwards).")
    var directory: String?

    @Option(help: "Concurrent writers on the master in the replication-lag run (0 skips it).")
    var lagWriters: Int = 4

    @Option(help: "Transactions each writer commits in the replication-lag run.")
    var lagTransactions: Int = 500

    @Flag(help: "Only the store copy and the disk probe (skips pull and push; for large stores).")
    var copyOnly = false

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
        let copyOnly = copyOnly
        Task {
            do {
                try await Self.measure(
                    master: master, all: transactionsToShip, root: root, copyOnly: copyOnly, into: box)
            } catch {
                box.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = box.error { throw error }
        let megabytes = Double(payloadBytes) / 1_048_576
        print("transactions: \(all.count), log payload: \(String(format: "%.1f", megabytes)) MiB")
        if !copyOnly {
                print(String(format: "pull:  %.0f tx/s, %.1f MiB/s (batches of 100, applied on the slave)",
                             Double(all.count) / box.pullSeconds, megabytes / box.pullSeconds))
                print(String(format: "push:  %.0f tx/s, mean %.0f µs per durable acknowledgement (one at a time)",
                             Double(box.pushed) / box.pushSeconds, box.pushSeconds / Double(box.pushed) * 1e6))
        }
        let copyRate = Double(box.copyBytes) / 1_048_576 / box.copySeconds
        let diskRate = Double(box.copyBytes) / 1_048_576 / box.diskSeconds
        print(String(format: "disk:  sequential write + fsync of %.1f MiB in %.2f s (%.1f MiB/s), same directory",
                     Double(box.copyBytes) / 1_048_576, box.diskSeconds, diskRate))
        print(String(format: "store copy: %.1f MiB in %.2f s (%.1f MiB/s, %.0f%% of the disk's sequential write rate)",
                     Double(box.copyBytes) / 1_048_576, box.copySeconds, copyRate, copyRate / diskRate * 100))
        print(String(format: "checkpoint before the copy (not part of it): %.2f s", box.checkpointSeconds))
        print(String(format: "store copy: commits paused on the master for %.3f s (checkpoint, opening the files)",
                     box.pauseSeconds))
        print(String(format: "store copy: CPU time of this process during the copy %.2f s (user + system, both ends), "
                     + "%.2f s per GiB", box.copyCPUSeconds, box.copyCPUSeconds / (Double(box.copyBytes) / 1_073_741_824)))
        if lagWriters > 0 && !copyOnly {
            try Self.measureLag(root: root, writers: lagWriters, perWriter: lagTransactions,
                                nodesPerTransaction: nodesPerTransaction)
        }
    }

    /// Writes `bytes` to a new file in `directory` in 1 MiB chunks and fsyncs it: the disk's sequential write rate,
    /// measured where the store copy writes, with the same amount of data, right after it.
    private static func timeSequentialWrite(bytes: Int, in directory: String) throws -> Double {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/sequential-write-probe"
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw DatabaseError(.unknownError, "Cannot create \(path)") }
        defer { try? handle.close() }
        // Random bytes, so no layer below can shortcut zeroes.
        var chunk = Data(count: 1 << 20)
        chunk.withUnsafeMutableBytes { raw in
            for i in 0..<raw.count { raw[i] = UInt8.random(in: 0...255) }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var written = 0
        while written < bytes {
            let n = min(chunk.count, bytes - written)
            try handle.write(contentsOf: n == chunk.count ? chunk : chunk.prefix(n))
            written += n
        }
        try handle.synchronize()
        return seconds(since: start)
    }

    private static func measure(
        master: GraphDatabase, all: [CommittedTransaction], root: String, copyOnly: Bool, into box: DataPortBenchResults
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = DataServer(database: master, group: group, logger: logger, forwarded: nil)
        try await server.start(host: "127.0.0.1", port: 0)
        let client = DataClient(address: "127.0.0.1:\(server.boundPort)", group: group, logger: logger)

        var start = DispatchTime.now().uptimeNanoseconds
        if !copyOnly {
            let pulled = try GraphDatabase(directory: root + "/pulled")
            start = DispatchTime.now().uptimeNanoseconds
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
        }

        // The store was just written: checkpoint it first, timed on its own, so the copy below measures the copy
        // (its own checkpoint finds nothing to flush) and not a flush of the whole store.
        start = DispatchTime.now().uptimeNanoseconds
        try master.checkpoint()
        box.checkpointSeconds = seconds(since: start)
        let cpuBefore = processCPUSeconds()
        start = DispatchTime.now().uptimeNanoseconds
        _ = try await client.copyStore(into: root + "/copied")
        box.copySeconds = seconds(since: start)
        box.copyCPUSeconds = processCPUSeconds() - cpuBefore
        box.copyBytes = try Self.directoryBytes(root + "/copied")
        // Right after the copy, on the same file system, as many bytes as the copy wrote.
        box.diskSeconds = try timeSequentialWrite(bytes: box.copyBytes, in: root + "/probe")
        // The pause commits see on the master: checkpoint (nothing left to flush here) and opening the files.
        start = DispatchTime.now().uptimeNanoseconds
        let source = try master.openStoreCopySource()
        box.pauseSeconds = seconds(since: start)
        source.close()
        await client.close()
        await server.stop()
        try await group.shutdownGracefully()
    }

    /// Replication lag at push factor 1 under load: `writers` threads commit on a fresh master whose commit hook, like
    /// the HA master's, pushes each commit to one slave (sending any it missed from the log) and returns only after
    /// the slave's durable acknowledgement. Measured: per commit, the time from the master's local commit (the hook
    /// starts) to the slave's acknowledgement, and, sampled every millisecond by another thread, how many
    /// transactions the slave's store is behind the master's.
    private static func measureLag(root: String, writers: Int, perWriter: Int, nodesPerTransaction: Int) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let master = try GraphDatabase(directory: root + "/lag-master")
        defer { try? master.close() }
        let slave = try GraphDatabase(directory: root + "/lag-slave")
        defer { try? slave.close() }
        let slaveServer = DataServer(database: slave, group: group, logger: logger, forwarded: nil)
        try blocking { try await slaveServer.start(host: "127.0.0.1", port: 0) }
        defer { blocking { await slaveServer.stop() } }
        slaveServer.setEpoch(Epoch(1), isMaster: false)
        let client = DataClient(address: "127.0.0.1:\(slaveServer.boundPort)", group: group, logger: logger)
        defer { blocking { await client.close() } }

        let lags = LagSamples()
        master.setCommitHook { transaction in
            let committed = DispatchTime.now().uptimeNanoseconds
            try blocking { _ = try await client.push(transaction, epoch: Epoch(1), catchingUpFrom: master) }
            lags.addPush(nanoseconds: DispatchTime.now().uptimeNanoseconds - committed)
        }
        defer { master.setCommitHook(nil) }

        let finished = ManagedAtomicFlag()
        let sampler = Thread {
            while !finished.isSet {
                let behind = Int(master.lastCommittedTxID.rawValue) - Int(slave.lastCommittedTxID.rawValue)
                lags.addBehind(max(0, behind))
                usleep(1000)
            }
        }
        sampler.start()
        let done = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        for w in 0..<writers {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    for t in 0..<perWriter {
                        try master.write { tx in
                            var last: NodeID?
                            for i in 0..<nodesPerTransaction {
                                let node = try tx.createNode(
                                    labels: ["Item"],
                                    properties: [
                                        "w": .integer(Int64(w)), "t": .integer(Int64(t)), "i": .integer(Int64(i)),
                                    ])
                                if let last { try tx.createRelationship(from: last, to: node, type: "NEXT") }
                                last = node
                            }
                        }
                    }
                } catch {
                    lags.fail(error)
                }
            }.start()
        }
        done.wait()
        let elapsed = seconds(since: start)
        finished.set()
        while !sampler.isFinished { usleep(1000) }
        if let error = lags.error { throw error }
        guard slave.lastCommittedTxID == master.lastCommittedTxID else {
            throw DatabaseError(
                .unknownError,
                "slave ended at tx \(slave.lastCommittedTxID.rawValue), master at \(master.lastCommittedTxID.rawValue)")
        }
        let (pushes, behind) = lags.sorted()
        func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
        }
        func behindAt(_ p: Double) -> Int { behind[min(behind.count - 1, Int(Double(behind.count) * p))] }
        print(String(format: "lag:   %d writers, %d commits in %.2f s (%.0f tx/s), each pushed to one slave before "
                     + "commit returns", writers, pushes.count, elapsed, Double(pushes.count) / elapsed))
        print(String(format: "lag:   master commit -> slave durable ack, ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f",
                     percentile(pushes, 0.5), percentile(pushes, 0.9), percentile(pushes, 0.99),
                     Double(pushes.last ?? 0) / 1e6))
        print("lag:   transactions the slave is behind (\(behind.count) samples, 1 ms apart): p50 \(behindAt(0.5)), "
              + "p90 \(behindAt(0.9)), p99 \(behindAt(0.99)), max \(behind.last ?? 0)")
    }

    /// Runs async `body` from a thread that may block (never from the event loop or the cooperative pool).
    private static func blocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = BlockingResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { result.value = .success(try await body()) } catch { result.value = .failure(error) }
            done.signal()
        }
        done.wait()
        return try result.value!.get()
    }

    private static func blocking(_ body: @escaping @Sendable () async -> Void) {
        _ = try? blocking { () async throws -> Int in await body(); return 0 }
    }

    /// Total size of the regular files directly in `path` (a store's files; subdirectories are scratch space).
    private static func directoryBytes(_ path: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: path).reduce(0) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: path + "/" + name)
            guard attributes[.type] as? FileAttributeType == .typeRegular else { return total }
            return total + ((attributes[.size] as? NSNumber)?.intValue ?? 0)
        }
    }

    /// User + system CPU time of this process so far.
    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
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
    var diskSeconds = 0.0
    var pauseSeconds = 0.0
    var copyCPUSeconds = 0.0
    var checkpointSeconds = 0.0
    var error: Error?
}

private final class BlockingResultBox<T>: @unchecked Sendable {
    var value: Result<T, Error>?
}

private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var isSet: Bool { lock.withLock { flag } }
    func set() { lock.withLock { flag = true } }
}

/// What the lag run's threads record (under a lock: a few thousand entries).
private final class LagSamples: @unchecked Sendable {
    private let lock = NSLock()
    private var pushes: [UInt64] = []
    private var behind: [Int] = []
    private(set) var error: Error?

    func addPush(nanoseconds: UInt64) { lock.withLock { pushes.append(nanoseconds) } }
    func addBehind(_ count: Int) { lock.withLock { behind.append(count) } }
    func fail(_ error: Error) { lock.withLock { if self.error == nil { self.error = error } } }
    func sorted() -> ([UInt64], [Int]) { lock.withLock { (pushes.sorted(), behind.sorted()) } }
}

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

#if canImport(Glibc)
import Glibc
#endif

/// The built `trellis-tools` executable (next to the test bundle, else `.build/debug/`).
private func toolsPath() -> String? {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var dir = (exe as NSString).deletingLastPathComponent
        for _ in 0..<3 {
            candidates.append(dir + "/trellis-tools")
            dir = (dir as NSString).deletingLastPathComponent
        }
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/trellis-tools")
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// `trellis-tools data-slave-child`: a slave store serving its data port in another process.
private final class SlaveProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let lock = NSLock()
    private var text = ""

    init(tool: String, store: String) throws {
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["data-slave-child", "--store", store, "--epoch", "1"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Blocking reads on a thread of their own until end of file, not a `readabilityHandler` (see CrashChild in
        // IntegrationTests: clearing that dispatch source while it fired once crashed the test process).
        let handle = output.fileHandleForReading
        let done = readerDone
        Thread { [self] in
            while case let data = handle.availableData, !data.isEmpty {
                lock.withLock { text += String(decoding: data, as: UTF8.self) }
            }
            done.signal()
        }.start()
    }

    /// Signalled once the reader has seen the end of the child's stdout.
    private let readerDone = DispatchSemaphore(value: 0)

    /// The port it printed, waiting at most `seconds`.
    func port(seconds: Double = 30) -> Int? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, process.isRunning {
            let line = lock.withLock { text }
            if let range = line.range(of: "port "), let end = line[range.upperBound...].firstIndex(of: "\n") {
                return Int(line[range.upperBound..<end])
            }
            usleep(5000)
        }
        return nil
    }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        readerDone.wait()
    }
}

@Suite("Data port: acknowledged pushes survive kill -9 of the slave", .serialized)
struct DataPortCrashTests {
    @Test("every push acknowledged before a SIGKILL is in the slave's store after recovery, chained as on the master")
    func pushSurvivesKillNine() async throws {
        guard let tool = toolsPath() else {
            Issue.record("trellis-tools is not built (swift build builds it)")
            return
        }
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        try commitChain(master, count: 150)
        var logged: [CommittedTransaction] = []
        try master.committedTransactions(from: TxID(2)).forEach { logged.append($0) }
        let all = logged
        let slaveDirectory = dirs.sub("slave")
        let seed = UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        let group = MultiThreadedEventLoopGroup.singleton
        var logger = Logger(label: "crash-test")
        logger.logLevel = .critical

        var acknowledged = TxID(1)
        var round = 0
        while acknowledged < all.last!.header.txID, round < 6 {
            round += 1
            let child = try SlaveProcess(tool: tool, store: slaveDirectory)
            let port = try #require(child.port(), "the slave child did not start (seed \(seed))")
            let client = DataClient(address: "127.0.0.1:\(port)", group: group, logger: logger)
            // Push from where the slave is (a restarted slave may have more than we saw acknowledged: the ack can
            // be lost in the kill) and kill it after a random number of further acknowledgements, with a push in
            // flight.
            let info = try await client.storeInfo()
            #expect(info.lastCommittedTxID >= acknowledged, "seed \(seed): lost an acknowledged push")
            let killAfter = Int(random.next() % 40) + 1
            let start = info.lastCommittedTxID
            let pusher = Task { () -> TxID in
                var last = start
                for transaction in all where transaction.header.txID > start {
                    do {
                        last = try await client.push(transaction, epoch: Epoch(1))
                    } catch {
                        return last
                    }
                }
                return last
            }
            // Kill once enough pushes were acknowledged (bounded wait), without waiting for the one in flight.
            var waited = 0
            while waited < 4000 {
                let reached = try? await client.storeInfo().lastCommittedTxID
                if let reached, reached.rawValue >= info.lastCommittedTxID.rawValue + Int64(killAfter) { break }
                if let reached, reached >= all.last!.header.txID { break }
                try await Task.sleep(for: .milliseconds(1))
                waited += 1
            }
            child.kill9()
            let acked = await pusher.value
            acknowledged = max(acknowledged, acked)
            await client.close()

            // Recovery: everything acknowledged is there, with the master's checksums.
            let reopened = try GraphDatabase(directory: slaveDirectory)
            #expect(reopened.lastCommittedTxID >= acknowledged, "seed \(seed): acknowledged \(acknowledged) lost")
            let last = reopened.lastCommittedTxID
            let masterHeader = try #require(try master.transactionHeader(at: last))
            #expect(reopened.lastCommittedChecksum == masterHeader.checksum, "seed \(seed): chain differs at \(last)")
            #expect(try ConsistencyChecker(database: reopened).check().isConsistent, "seed \(seed)")
            try reopened.close()
        }
        #expect(round >= 2 && acknowledged.rawValue > 10, "seed \(seed): the rounds made no progress")
        // Finish by pushing the rest in-process and compare everything.
        let slave = try GraphDatabase(directory: slaveDirectory)
        defer { try? slave.close() }
        try ReplicatedApply.apply(all.filter { $0.header.txID > slave.lastCommittedTxID }, to: slave)
        #expect(slave.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(slave) == graphDump(master))
    }
}

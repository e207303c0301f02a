import Foundation
import GraphKernel
import GraphValues
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `trellis-tools` executable: next to the test bundle (SwiftPM puts products and test bundles in the
/// same build directory), else `.build/debug/` from the working directory.
func trellisToolsPath() -> String? {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var dir = (exe as NSString).deletingLastPathComponent
        // The bundle binary may live inside `X.xctest/` (a directory on some platforms).
        for _ in 0..<3 {
            candidates.append(dir + "/trellis-tools")
            dir = (dir as NSString).deletingLastPathComponent
        }
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/trellis-tools")
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A `crash-child` process whose stdout lines (acknowledged transaction numbers) are collected as they arrive.
final class CrashChild: @unchecked Sendable {
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = Data()
    private var lines: [String] = []
    private var stderrPipe = Pipe()

    init(tool: String, store: String, extraArguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["crash-child", "--store", store] + extraArguments
        process.standardOutput = pipe
        process.standardError = stderrPipe
        try process.run()
        // A thread of its own reads the child's stdout with blocking reads until end of file. Not a
        // `readabilityHandler`: clearing that dispatch source while it fired at end of file once crashed the test
        // process inside libdispatch.
        let handle = pipe.fileHandleForReading
        let done = readerDone
        Thread { [self] in
            while case let data = handle.availableData, !data.isEmpty { received(data) }
            done.signal()
        }.start()
    }

    /// Signalled once the reader has seen the end of the child's stdout.
    private let readerDone = DispatchSemaphore(value: 0)

    private func received(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(data)
        while let newline = buffer.firstIndex(of: 0x0A) {
            lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
    }

    var receivedLines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    /// Acknowledged transaction numbers seen so far.
    var acknowledged: [Int64] { receivedLines.compactMap { Int64($0) } }

    /// Waits until `condition` holds on the lines, the process exits, or `seconds` pass.
    func wait(seconds: Double, until condition: ([String]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(receivedLines) { return true }
            if !process.isRunning { return condition(receivedLines) }
            usleep(2000)
        }
        return false
    }

    /// SIGKILL, then drain what the child wrote before dying.
    func kill9() -> [Int64] {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        readerDone.wait()
        return acknowledged
    }

    var standardError: String {
        String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self)
    }
}

@Suite("Crash recovery with a real child process killed by SIGKILL", .serialized)
struct CrashRecoveryTests {
    /// Opens the store in-process (running recovery) and checks the numbered transactions: every acknowledged one is
    /// present, the numbers present are 1…max without holes, and each transaction is complete (its node, both
    /// items, both HAS relationships with their property, and the NEXT link from its predecessor).
    func verify(
        store: String, acknowledged: Set<Int64>, round: Int, expectSnapshotUsed: Bool = false
    ) throws -> Int64 {
        let db = try GraphDatabase(directory: store, configuration: KernelConfiguration(pageCacheSizeBytes: 8 << 20))
        defer { try? db.close() }
        if expectSnapshotUsed {
            #expect(db.derivedStoresFromSnapshot, "round \(round): the derived-structures snapshot was not used")
        }
        let present = try db.read { tx -> [Int64: NodeID] in
            var result: [Int64: NodeID] = [:]
            for node in try tx.nodes(withLabel: "Tx") {
                guard case .integer(let n) = try tx.nodeProperty(node, "n") else {
                    Issue.record("round \(round): Tx node \(node) without a number (half-applied)")
                    continue
                }
                #expect(result[n] == nil, "round \(round): transaction \(n) applied twice")
                result[n] = node
            }
            return result
        }
        let highest = present.keys.max() ?? 0
        let expected: Set<Int64> = highest == 0 ? [] : Set(1...highest)
        #expect(Set(present.keys) == expected, "round \(round): numbers present must be 1…\(highest) without holes")
        let missing = acknowledged.subtracting(present.keys)
        #expect(missing.isEmpty, "round \(round): acknowledged transactions lost: \(missing.sorted().prefix(10))")
        try db.read { tx in
            for (n, node) in present {
                #expect(try tx.nodeProperty(node, "name") == .string("tx-\(n)"), "round \(round): tx \(n) name")
                let has = try tx.relationships(of: node, direction: .outgoing, types: ["HAS"])
                #expect(has.count == 2, "round \(round): tx \(n) has \(has.count) HAS relationships")
                var items: Set<Int64> = []
                for rel in has {
                    #expect(try tx.relationshipProperty(rel.id, "w") == .integer(n))
                    let item = rel.endNode
                    #expect(try tx.nodeProperty(item, "n") == .integer(n))
                    if case .integer(let i) = try tx.nodeProperty(item, "i") { items.insert(i) }
                }
                #expect(items == [0, 1], "round \(round): tx \(n) items \(items)")
                if n > 1 {
                    let incoming = try tx.relationships(of: node, direction: .incoming, types: ["NEXT"])
                    #expect(incoming.count == 1, "round \(round): tx \(n) has \(incoming.count) NEXT links")
                }
            }
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "round \(round): \(report)")
        return highest
    }

    @Test("kill -9 at random moments loses no acknowledged transaction and leaves no partial one")
    func killNineRounds() throws {
        guard let tool = trellisToolsPath() else {
            Issue.record("trellis-tools is not built (swift build --product trellis-tools)")
            return
        }
        let long = ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == "1"
        let rounds = long ? 100 : 20
        let store = NSTemporaryDirectory() + "trellis-crash-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: store) }
        var seed = UInt64(ProcessInfo.processInfo.environment["CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
        print("crash test seed \(seed) (CRASH_SEED=\(seed) replays the kill timing)")
        var acknowledged: Set<Int64> = []
        var killedWhileCommitting = 0
        for round in 0..<rounds {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let child = try CrashChild(tool: tool, store: store)
            // Let the child recover and commit a little, then kill it at a random moment: sometimes right after it
            // is ready (during the first commits), usually a random 0–120 ms into steady committing.
            let ready = child.wait(seconds: 30) { lines in lines.contains { $0.hasPrefix("ready") } }
            #expect(ready, "round \(round): child did not start: \(child.standardError)")
            let delayMicros = UInt32((seed >> 33) % 120_000)
            if (seed >> 20) % 4 != 0 {
                _ = child.wait(seconds: 10) { lines in lines.count > 1 }
            }
            usleep(delayMicros)
            let acked = child.kill9()
            #expect(child.process.terminationReason == .uncaughtSignal, "round \(round): child exited by itself")
            if !acked.isEmpty { killedWhileCommitting += 1 }
            acknowledged.formUnion(acked)
            // From round 1 on a snapshot exists (the previous round's verification closed the store cleanly), so
            // recovery must redo the log on top of it rather than rebuild.
            let highest = try verify(
                store: store, acknowledged: acknowledged, round: round, expectSnapshotUsed: round > 0)
            #expect(highest >= (acknowledged.max() ?? 0))
        }
        print("crash test: \(rounds) rounds, \(acknowledged.count) acknowledged transactions, "
            + "\(killedWhileCommitting) kills while committing")
        #expect(killedWhileCommitting >= rounds / 2, "most kills must land while committing")
        #expect(acknowledged.count > rounds, "the child must make progress (\(acknowledged.count) acknowledged)")
    }

    @Test("kill -9 between the derived-structures snapshot and the checkpoint record: the snapshot is redone from the log")
    func killBetweenSnapshotAndCheckpoint() throws {
        guard let tool = trellisToolsPath() else {
            Issue.record("trellis-tools is not built (swift build --product trellis-tools)")
            return
        }
        let store = NSTemporaryDirectory() + "trellis-snapcrash-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: store) }
        var acknowledged: Set<Int64> = []
        // Each round the child commits a different number of transactions (checkpoints land at different points of
        // the scratch churn), then kills itself inside a checkpoint right after the snapshot is durable.
        for (round, transactions) in [7, 31, 12, 58, 3].enumerated() {
            let child = try CrashChild(
                tool: tool, store: store, extraArguments: ["--kill-after-snapshot", String(transactions)])
            _ = child.wait(seconds: 60) { _ in false }
            #expect(!child.process.isRunning, "round \(round): the child did not kill itself within 60 s")
            let acked = child.kill9()
            #expect(
                child.process.terminationReason == .uncaughtSignal && child.process.terminationStatus == SIGKILL,
                "round \(round): the child must die by its own SIGKILL: \(child.standardError)")
            #expect(acked.count >= transactions - 1, "round \(round): \(acked.count) acknowledged")
            acknowledged.formUnion(acked)
            // The first round's store had no snapshot before (the child's first checkpoint wrote it).
            _ = try verify(store: store, acknowledged: acknowledged, round: round, expectSnapshotUsed: true)
        }
    }
}

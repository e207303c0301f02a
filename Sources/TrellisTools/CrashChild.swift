import ArgumentParser
import Atomics
import GraphKernel
import Logging
import GraphValues

#if canImport(Glibc)
import Glibc
#endif

/// The child process of the crash test (`Tests/IntegrationTests/CrashRecoveryTests.swift`).
///
/// Opens (and so recovers) the store, finds the highest transaction number already in it, then commits numbered
/// transactions forever: transaction k creates a `Tx {n: k}` node, two `Item {n: k, i: 0|1}` nodes, two
/// `HAS {w: k}` relationships from the Tx node to its items, and a `NEXT` relationship from Tx k-1 to Tx k (which
/// rewrites records of an older transaction, so recovery has chains to repair). After each commit returns it
/// prints `k` on its own line and flushes stdout: every printed number is an acknowledged, durable commit. The
/// parent kills it with SIGKILL at random moments.
///
/// The store runs with `KernelConfiguration.crashTestChild()`.
struct CrashChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-child", abstract: "Commit numbered transactions, printing each acknowledged number.")

    @Option(help: "Store directory (created if missing).")
    var store: String

    @Option(help: "Stop after this many transactions (0 = run until killed).")
    var count: Int = 0

    @Option(
        help: """
            SIGKILL itself in the checkpoint that follows the first N transactions of this run, right after the \
            derived-structures snapshot is durable and before the checkpoint is recorded (0 = never).
            """)
    var killAfterSnapshot: Int = 0

    func run() throws {
        var configuration = KernelConfiguration.crashTestChild()
        // Log lines go to stderr: stdout carries only acknowledgements.
        configuration.logger = Logger(label: "trellis.kernel") { StreamLogHandler.standardError(label: $0) }
        let armed = ManagedAtomic<Bool>(false)
        if killAfterSnapshot > 0 {
            configuration.afterDerivedSnapshotWritten = {
                if armed.load(ordering: .acquiring) { kill(getpid(), SIGKILL) }
            }
        }
        let db = try GraphDatabase(directory: store, configuration: configuration)
        let indexed = try db.read { tx -> Bool in
            guard let label = try tx.labelToken("Tx"), let key = try tx.propertyKeyToken("n") else { return false }
            return try tx.index(label: label, propertyKey: key) != nil
        }
        if !indexed { try db.write { tx in _ = try tx.createIndex(on: "Tx", "n") } }
        let scratchIndexed = try db.read { tx -> Bool in
            guard let label = try tx.labelToken("Scratch"), let key = try tx.propertyKeyToken("n") else { return false }
            return try tx.index(label: label, propertyKey: key) != nil
        }
        if !scratchIndexed { try db.write { tx in _ = try tx.createIndex(on: "Scratch", "n") } }
        let start = try db.read { tx -> Int64 in
            var highest: Int64 = 0
            for node in try tx.nodes(withLabel: "Tx") {
                if case .integer(let n) = try tx.nodeProperty(node, "n") { highest = max(highest, n) }
            }
            return highest
        }
        printLine("ready \(start)")
        var k = start + 1
        while count == 0 || k <= start + Int64(count) {
            try db.write { tx in
                let node = try tx.createNode(labels: ["Tx"], properties: ["n": .integer(k), "name": .string("tx-\(k)")])
                for i in 0..<2 {
                    let item = try tx.createNode(
                        labels: ["Item"], properties: ["n": .integer(k), "i": .integer(Int64(i))])
                    try tx.createRelationship(from: node, to: item, type: "HAS", properties: ["w": .integer(k)])
                }
                if k > 1 {
                    let previous = try tx.findNodes("Tx", "n", equals: .integer(k - 1))
                    if let previous = previous.first {
                        try tx.createRelationship(from: previous, to: node, type: "NEXT")
                    }
                }
                try churnScratch(tx, k: k, txNode: node)
            }
            if killAfterSnapshot > 0 && k == start + Int64(killAfterSnapshot) {
                armed.store(true, ordering: .releasing)
                try db.checkpoint()
            }
            printLine(String(k))
            k += 1
        }
        try db.close()
    }

    /// Changes of every kind the derived structures follow (label scan, counts per label and type, index
    /// entries), on `Scratch` nodes the parent does not verify itself; the consistency checker does.
    /// Transaction k adds scratch node k linked to its Tx node, then changes scratch node k-2: deletes it (with its
    /// relationship), moves it from label `Scratch` to `Old`, or changes its indexed value.
    private func churnScratch(_ tx: KernelTransaction, k: Int64, txNode: NodeID) throws {
        let scratch = try tx.createNode(labels: ["Scratch"], properties: ["n": .integer(k)])
        try tx.createRelationship(from: txNode, to: scratch, type: "TMP")
        guard k > 2, let old = try tx.findNodes("Scratch", "n", equals: .integer(k - 2)).first else { return }
        switch k % 3 {
        case 0:
            for rel in try tx.relationships(of: old) { try tx.deleteRelationship(rel.id) }
            try tx.deleteNode(old)
        case 1:
            try tx.removeLabel(old, try tx.getOrCreateLabelToken("Scratch"))
            try tx.addLabel(old, try tx.getOrCreateLabelToken("Old"))
        default:
            try tx.setNodeProperty(old, "n", .integer(-k))
        }
    }

    /// Writes one line to stdout and flushes it, so the parent sees every acknowledgement before a kill.
    private func printLine(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(1, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { return }
                done += n
            }
        }
    }
}

extension KernelConfiguration {
    /// The kernel settings of the crash-test children (`crash-child`, `data-slave-child`): a small page cache,
    /// small log files, frequent checkpoints and small preallocation steps, so kills land in rotation, pruning,
    /// checkpoint flushing, page eviction and the zero-filling of the log, not only in appends.
    static func crashTestChild() -> KernelConfiguration {
        var configuration = KernelConfiguration(pageCacheSizeBytes: 1 << 20)
        configuration.log = LogConfiguration(
            rotationSizeBytes: 64 << 10, retention: .files(3), checkpointIntervalTime: .seconds(1),
            checkpointIntervalTx: 25, preallocate: true, preallocationStepBytes: 16 << 10)
        return configuration
    }
}

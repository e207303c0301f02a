import ArgumentParser
import Dispatch
import GraphKernel
import GraphValues

#if canImport(Glibc)
import Glibc
#endif

/// `trellis-tools bench-kernel`: the storage kernel benchmark (run it from a release build).
///
/// Measures, in one run on one disk: the disk's own fsync rate; durable commits/s with one and with four writers,
/// both at the log level (`TransactionLog.append`) and through the embedded API (`GraphDatabase.write`); bulk
/// creation of nodes and relationships through the embedded API; cached expansion (relationships traversed per
/// second on one core); index point lookups per second; and the store's size against the sizing rule in
/// docs/storage.md. Prints a Markdown report.
struct BenchKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernel", abstract: "Storage kernel benchmark (use a release build).")

    @Option(help: "Scratch directory on the disk to measure (removed afterwards unless --keep).")
    var dir: String = "/tmp/trellis-bench-kernel"

    @Option(help: "Nodes to bulk-create.")
    var nodes: Int = 1_000_000

    @Option(help: "Relationships to bulk-create (between random nodes).")
    var relationships: Int = 10_000_000

    @Option(help: "Seconds per timed phase (fsync rate, commit rates, expansion, lookups).")
    var seconds: Double = 3

    @Option(help: "Operations per transaction during bulk creation.")
    var batch: Int = 50_000

    @Option(help: "Page cache size for the bulk store, e.g. 2g.")
    var pageCache: String = "2g"

    @Option(help: "Adjacency cache size for the cached-expansion phase, e.g. 1g (the bulk load runs without it).")
    var adjacencyCache: String = "1g"

    @Flag(help: "Skip the fsync and commit-rate phases (bulk load, expansion, lookups and size only).")
    var bulkOnly = false

    @Flag(help: "Keep the scratch directory.")
    var keep = false

    @Flag(
        help: """
            Expansion only, on the store a previous `--bulk-only --keep` run left in --dir (same --nodes and \
            --relationships): skips the load, lookups and open times; keeps the store.
            """)
    var reuseStore = false

    func run() throws {
        if reuseStore {
            var report = BenchReport()
            report.line("Machine: \(machineDescription(dir))")
            report.line("")
            report.line("| measurement | result |")
            report.line("|---|---|")
            try measureReusedStore(into: &report)
            print(report.text)
            return
        }
        removeTree(dir)
        try PosixLogFileSystem().createDirectory(dir)
        defer { if !keep { removeTree(dir) } }
        var report = BenchReport()
        report.line("## Kernel benchmark (`trellis-tools bench-kernel`)")
        report.line("")
        report.line("Machine: \(machineDescription(dir))")
        report.line("")
        report.line("| measurement | result |")
        report.line("|---|---|")

        if bulkOnly {
            try measureBulk(into: &report)
            print(report.text)
            return
        }
        // 1. The disk's own fsync rate: 512-byte appends, each followed by fdatasync, as the log does.
        let fsyncRate = try measureFsyncRate(threads: 1)
        report.row("disk fdatasync rate (512 B append + fdatasync, 1 thread)", "\(fmt(fsyncRate)) /s")
        // Some disks (virtualized ones especially) complete concurrent syncs of different files in parallel; this
        // says how much of a multi-writer speed-up the disk gives by itself, without any group commit.
        let parallelFsyncRate = try measureFsyncRate(threads: 4)
        report.row("disk fdatasync rate, 4 threads on 4 files (no sharing)", "\(fmt(parallelFsyncRate)) /s")

        // 2. Log-level durable appends.
        let logOne = try measureLogAppends(writers: 1)
        let logFour = try measureLogAppends(writers: 4)
        report.row(
            "log appends, 1 writer (durable, 200 B payload)",
            "\(fmt(logOne.rate)) /s = \(pct(logOne.rate / fsyncRate)) of fsync rate")
        report.row(
            "log appends, 4 writers (group commit)",
            "\(fmt(logFour.rate)) /s = \(ratio(logFour.rate / logOne.rate)) one writer; "
                + "\(ratio(logFour.appendsPerSync)) appends per sync")

        // 3. Embedded API durable commits (one small node per transaction).
        let apiOne = try measureEmbeddedCommits(writers: 1)
        let apiFour = try measureEmbeddedCommits(writers: 4)
        report.row(
            "embedded commits, 1 writer (1 node + 1 property each)",
            "\(fmt(apiOne)) /s = \(pct(apiOne / fsyncRate)) of fsync rate")
        report.row("embedded commits, 4 writers", "\(fmt(apiFour)) /s = \(ratio(apiFour / apiOne)) one writer")
        let fsyncAfter = try measureFsyncRate(threads: 1)
        report.row("disk fdatasync rate again, after the commit phases (drift check)", "\(fmt(fsyncAfter)) /s")

        // 4–7. Bulk load, expansion, lookups, size.
        if nodes > 0 { try measureBulk(into: &report) }
        print(report.text)
    }

    // MARK: - Phases

    func measureFsyncRate(threads: Int) throws -> Double {
        let fs = PosixLogFileSystem()
        let files = try (0..<threads).map { try fs.openFile(dir + "/fsync-probe-\($0)", create: true) }
        defer {
            for (index, file) in files.enumerated() {
                file.close()
                try? fs.removeFile(dir + "/fsync-probe-\(index)")
            }
        }
        let block = [UInt8](repeating: 0xA5, count: 512)
        let counts = runThreads(threads) { thread, deadline in
            var offset: Int64 = 0
            var count = 0
            while ContinuousClock.now < deadline {
                do {
                    try files[thread].write(block, at: offset)
                    try files[thread].sync()
                } catch {
                    break
                }
                offset += 512
                count += 1
            }
            return count
        }
        return Double(counts.total) / counts.elapsed
    }

    func measureLogAppends(writers: Int) throws -> (rate: Double, appendsPerSync: Double) {
        let path = dir + "/log-\(writers)"
        let log = try TransactionLog(directory: path, storeID: 1)
        let payload = [UInt8](repeating: 0x42, count: 200)
        let counts = runThreads(writers) { _, deadline in
            var n = 0
            while ContinuousClock.now < deadline {
                if (try? log.append(payload: payload, masterServerID: 1, epoch: 1)) == nil { break }
                n += 1
            }
            return n
        }
        let stats = log.statistics
        try log.close()
        removeTree(path)
        let total = Double(counts.total)
        return (total / counts.elapsed, total / Double(max(1, stats.syncs)))
    }

    func measureEmbeddedCommits(writers: Int) throws -> Double {
        let path = dir + "/commits-\(writers)"
        let db = try GraphDatabase(directory: path, configuration: KernelConfiguration(pageCacheSizeBytes: 64 << 20))
        let (label, key) = try db.write { tx in
            (try tx.getOrCreateLabelToken("Commit"), try tx.getOrCreatePropertyKeyToken("n"))
        }
        let counts = runThreads(writers) { thread, deadline in
            var n = 0
            while ContinuousClock.now < deadline {
                do {
                    try db.write { (tx: KernelTransaction) -> Void in
                        let node = try tx.createNode(labels: [label])
                        try tx.setNodeProperty(node, key, .integer(Int64(thread * 1_000_000 + n)))
                    }
                } catch {
                    break
                }
                n += 1
            }
            return n
        }
        try db.close()
        removeTree(path)
        return Double(counts.total) / counts.elapsed
    }

    func measureBulk(into report: inout BenchReport) throws {
        let path = dir + "/bulk"
        var configuration = KernelConfiguration(pageCacheSizeBytes: Int(try ByteSize.parse(pageCache)))
        // Bulk loading writes gigabytes of log; keep only what recovery needs.
        configuration.log.retention = .keepNone
        // The load and the first expansion phase run on the records alone (the "before"); the adjacency cache is
        // measured on a reopen at the end, in the same run.
        configuration.adjacencyCacheSizeBytes = 0
        let db = try GraphDatabase(directory: path, configuration: configuration)
        let clock = ContinuousClock()
        var random = SplitMix64(seed: 0x5EED)

        // Nodes: :Person {id: i, name: "p<i mod 10^6>"} (the name fits inline, ≤ 8 bytes).
        let (person, idKey, nameKey, knows) = try db.write { tx in
            (
                try tx.getOrCreateLabelToken("Person"), try tx.getOrCreatePropertyKeyToken("id"),
                try tx.getOrCreatePropertyKeyToken("name"), try tx.getOrCreateRelationshipTypeToken("KNOWS")
            )
        }
        var nodeIDs: [NodeID] = []
        nodeIDs.reserveCapacity(nodes)
        var start = clock.now
        var created = 0
        while created < nodes {
            let upTo = min(nodes, created + batch)
            try db.write { tx in
                for i in created..<upTo {
                    let node = try tx.createNode(labels: [person])
                    try tx.setNodeProperty(node, idKey, .integer(Int64(i)))
                    try tx.setNodeProperty(node, nameKey, .string("p\(i % 1_000_000)"))
                    nodeIDs.append(node)
                }
            }
            created = upTo
        }
        let nodeSeconds = (clock.now - start).seconds
        report.row(
            "bulk create \(fmt(Double(nodes))) nodes (label + 2 properties, \(batch)/tx)",
            "\(secs(nodeSeconds)) = \(fmt(Double(nodes) / nodeSeconds)) nodes/s")

        start = clock.now
        created = 0
        var selfLoops = 0
        while created < relationships {
            let upTo = min(relationships, created + batch)
            try db.write { tx in
                for _ in created..<upTo {
                    let a = nodeIDs[Int(random.next() % UInt64(nodeIDs.count))]
                    let b = nodeIDs[Int(random.next() % UInt64(nodeIDs.count))]
                    if a == b { selfLoops += 1 }
                    _ = try tx.createRelationship(from: a, to: b, type: knows)
                }
            }
            created = upTo
        }
        let relSeconds = (clock.now - start).seconds
        report.row(
            "bulk create \(fmt(Double(relationships))) relationships (\(batch)/tx)",
            "\(secs(relSeconds)) = \(fmt(Double(relationships) / relSeconds)) rels/s")
        try db.checkpoint()

        // Expansion from the records (page cache only): warm every chain once, then expand random nodes.
        let walkRate = try measureExpansion(db, nodeIDs, selfLoops: selfLoops, random: &random).rate
        report.row(
            "expansion from the records, page cache warm (random nodes, both directions, per CPU second)",
            "\(fmt(walkRate)) rels/s (avg degree \(ratio(Double(2 * relationships) / Double(nodes))))")

        // Index point lookups.
        start = clock.now
        try db.write { tx in _ = try tx.createIndex(name: "person_id", label: person, propertyKey: idKey) }
        // A large index is populated in the background: the time until it is ONLINE.
        while true {
            let state = try db.read { tx in try tx.indexes().first { $0.name == "person_id" }?.state }
            if state == .online { break }
            if case .failed(let reason) = state { throw DatabaseError(.indexNotFound, reason) }
            usleep(1_000)
        }
        let indexSeconds = (clock.now - start).seconds
        var lookups = 0
        var found = 0
        start = clock.now
        let lookupDeadline = start + .milliseconds(Int64(seconds * 1000))
        try db.read { tx in
            guard let index = try tx.index(label: person, propertyKey: idKey) else {
                throw DatabaseError(.indexNotFound, "person_id index missing after creation")
            }
            while clock.now < lookupDeadline {
                for _ in 0..<1000 {
                    let id = Int64(random.next() % UInt64(nodes))
                    if try tx.indexSeek(index, equals: .integer(id)).next() != nil { found += 1 }
                    lookups += 1
                }
            }
        }
        precondition(found == lookups, "every looked-up id exists; found \(found) of \(lookups)")
        let lookupSeconds = (clock.now - start).seconds
        report.row("index creation + population over \(fmt(Double(nodes))) nodes", secs(indexSeconds))
        report.row("index point lookups (1 thread, random existing ids)", "\(fmt(Double(lookups) / lookupSeconds)) /s")

        try db.close()

        // Open time of the whole store: derived structures (label scan, the index, counts) from the snapshot the
        // close wrote, then with the snapshot removed (rebuilt from every node and relationship record).
        var reopenStart = clock.now
        var reopened = try GraphDatabase(directory: path, configuration: configuration)
        let snapshotOpenSeconds = (clock.now - reopenStart).seconds
        let usedSnapshot = reopened.derivedStoresFromSnapshot
        try reopened.close()
        _ = unlink(path + "/neostore.derived.db")
        reopenStart = clock.now
        reopened = try GraphDatabase(directory: path, configuration: configuration)
        let rebuildOpenSeconds = (clock.now - reopenStart).seconds
        try reopened.close()
        report.row(
            "open after a clean shutdown, derived structures from their snapshot",
            usedSnapshot ? secs(snapshotOpenSeconds) : "snapshot NOT used (\(secs(snapshotOpenSeconds)))")
        report.row("open after a clean shutdown, snapshot removed (full rebuild)", secs(rebuildOpenSeconds))

        // The same expansion served by the adjacency cache (the "after").
        try measureCachedExpansion(
            path, configuration, nodeIDs, selfLoops: selfLoops, walkRate: walkRate, random: &random, into: &report)

        // Store size against the sizing rule (docs/storage.md): nodes × 32 + relationships × 64 + property records
        // × 64 (two small properties per node fit one record) + 8 KiB per store file.
        var storeBytes: Int64 = 0
        var logBytes: Int64 = 0
        var storeFiles = 0
        for name in try PosixLogFileSystem().listDirectory(path) {
            var st = stat()
            guard stat(path + "/" + name, &st) == 0 else { continue }
            if name.hasPrefix("neostore.transaction.db.") || name == "neostore.derived.db" {
                logBytes += Int64(st.st_size)
            } else {
                storeBytes += Int64(st.st_size)
                storeFiles += 1
            }
        }
        let rule = Int64(nodes) * 32 + Int64(relationships) * 64 + Int64(nodes) * 64 + Int64(storeFiles) * 8192
        report.row(
            "store size on disk (without tx logs)",
            "\(mib(storeBytes)) vs sizing rule \(mib(rule)) = \(ratio(Double(storeBytes) / Double(rule))) "
                + "(tx logs after checkpoint and the derived-structures snapshot: \(mib(logBytes)))")
        if !keep { removeTree(path) }
    }

    /// `--reuse-store`: expansion from the records, then from the adjacency cache, on a kept bulk store.
    func measureReusedStore(into report: inout BenchReport) throws {
        let path = dir + "/bulk"
        var configuration = KernelConfiguration(pageCacheSizeBytes: Int(try ByteSize.parse(pageCache)))
        configuration.log.retention = .keepNone
        configuration.adjacencyCacheSizeBytes = 0
        var random = SplitMix64(seed: 0x5EED)
        let nodeIDs = (0..<Int64(nodes)).map { NodeID($0) }
        let db = try GraphDatabase(directory: path, configuration: configuration)
        // Self-loops are returned once by `.both`: count them so the warm-up can check it saw every relationship.
        var selfLoops = 0
        try db.read { tx in
            for rel in try tx.allRelationships() where rel.startNode == rel.endNode { selfLoops += 1 }
        }
        let walkRate = try measureExpansion(db, nodeIDs, selfLoops: selfLoops, random: &random).rate
        try db.close()
        report.row(
            "expansion from the records, page cache warm (random nodes, both directions, per CPU second)",
            "\(fmt(walkRate)) rels/s (avg degree \(ratio(Double(2 * relationships) / Double(nodes))))")
        try measureCachedExpansion(
            path, configuration, nodeIDs, selfLoops: selfLoops, walkRate: walkRate, random: &random, into: &report)
    }

    /// Reopens the store at `path` with the adjacency cache and measures the three expansion forms against the
    /// record walk's `walkRate` (the "after" of both the bulk run and `--reuse-store`).
    func measureCachedExpansion(
        _ path: String, _ configuration: KernelConfiguration, _ nodeIDs: [NodeID], selfLoops: Int, walkRate: Double,
        random: inout SplitMix64, into report: inout BenchReport
    ) throws {
        var cachedConfiguration = configuration
        cachedConfiguration.adjacencyCacheSizeBytes = Int(try ByteSize.parse(adjacencyCache))
        let cachedDB = try GraphDatabase(directory: path, configuration: cachedConfiguration)
        let cached = try measureExpansion(cachedDB, nodeIDs, selfLoops: selfLoops, random: &random)
        let cachedIterator = try measureExpansion(
            cachedDB, nodeIDs, selfLoops: selfLoops, random: &random, iterator: true)
        let cachedBatch = try measureExpansion(
            cachedDB, nodeIDs, selfLoops: selfLoops, random: &random, nodesPerCall: 128)
        let stats = cachedDB.adjacencyCacheStats
        try cachedDB.close()
        report.row(
            "expansion from the adjacency cache through the AnyIterator form", "\(fmt(cachedIterator.rate)) rels/s")
        report.row(
            "expansion from the adjacency cache, 128 random nodes per call (multi-node form, as a BFS frontier)",
            "\(fmt(cachedBatch.rate)) rels/s")
        report.row(
            "expansion from the adjacency cache (same graph and pattern)",
            "\(fmt(cached.rate)) rels/s = \(ratio(cached.rate / walkRate)) the record walk; filling it (first "
                + "expansion of every node, page cache cold) \(secs(cached.warmSeconds)); \(fmt(Double(stats.entries))) "
                + "entries in \(mib(Int64(stats.bytes))) (budget \(mib(Int64(stats.budgetBytes)))), "
                + "\(fmt(Double(stats.evictions))) evictions")
    }

    /// Expands every node once (warming whatever cache serves expansion), then random nodes on one thread for
    /// `seconds`; returns relationships per second of the timed part and the warm-up time. The timed part goes
    /// through the batch call the Cypher Expand operators use (`relationships(of:direction:types:into:)`, one
    /// reused buffer) and reads each relationship's other end, as an Expand does; `iterator` measures the older
    /// `AnyIterator` form instead; `nodesPerCall` > 1 the multi-node call (as a breadth-first frontier uses it)
    /// with that many random nodes per call.
    func measureExpansion(
        _ db: GraphDatabase, _ nodeIDs: [NodeID], selfLoops: Int, random: inout SplitMix64, iterator: Bool = false,
        nodesPerCall: Int = 1
    ) throws -> (rate: Double, warmSeconds: Double) {
        let clock = ContinuousClock()
        // The token API (what Cypher's Expand uses), not the convenience taking type names, which copies.
        let noTypes: [RelationshipTypeToken] = []
        var warm = 0
        let warmStart = clock.now
        try db.read { tx in
            for node in nodeIDs {
                for _ in try tx.relationships(of: node, direction: .both, types: noTypes) { warm += 1 }
            }
        }
        let warmSeconds = (clock.now - warmStart).seconds
        // Every relationship is seen from both ends, except a self-loop, which `.both` returns once.
        precondition(warm == 2 * relationships - selfLoops, "expected \(2 * relationships - selfLoops), traversed \(warm)")
        var traversed = 0
        // Sum of the other ends, so the reads cannot be optimised away (and checked below).
        var checksum: Int64 = 0
        var buffer: [RelationshipInfo] = []
        var batchNodes: [NodeID] = []
        var ends: [Int] = []
        // Per core: the rate is over this thread's CPU time, so other load on the machine does not count.
        let cpuStart = threadCPUSeconds()
        let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
        try db.read { tx in
            while clock.now < deadline && nodesPerCall > 1 {
                for _ in 0..<(1000 / nodesPerCall + 1) {
                    batchNodes.removeAll(keepingCapacity: true)
                    for _ in 0..<nodesPerCall { batchNodes.append(nodeIDs[Int(random.next() % UInt64(nodeIDs.count))]) }
                    try tx.relationships(
                        of: batchNodes[...], direction: .both, types: noTypes, into: &buffer, ends: &ends)
                    var begin = 0
                    for (k, node) in batchNodes.enumerated() {
                        for rel in buffer[begin..<ends[k]] { checksum &+= rel.otherNode(node).rawValue }
                        begin = ends[k]
                    }
                    traversed += buffer.count
                }
            }
            while clock.now < deadline {
                for _ in 0..<1000 {
                    let node = nodeIDs[Int(random.next() % UInt64(nodeIDs.count))]
                    if iterator {
                        for rel in try tx.relationships(of: node, direction: .both, types: noTypes) {
                            checksum &+= rel.otherNode(node).rawValue
                            traversed += 1
                        }
                    } else {
                        try tx.relationships(of: node, direction: .both, types: noTypes, into: &buffer)
                        for rel in buffer { checksum &+= rel.otherNode(node).rawValue }
                        traversed += buffer.count
                    }
                }
            }
        }
        let rate = Double(traversed) / (threadCPUSeconds() - cpuStart)
        precondition(traversed == 0 || checksum != 0 || nodeIDs.count == 1, "expansion read nothing")
        return (rate, warmSeconds)
    }

    // MARK: - Helpers

    func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Runs `body` on `count` threads until a common deadline; returns the summed result and the elapsed seconds.
    func runThreads(_ count: Int, _ body: @escaping @Sendable (Int, ContinuousClock.Instant) -> Int)
        -> (total: Int, elapsed: Double)
    {
        let group = DispatchGroup()
        let results = ResultBox(count)
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        for thread in 0..<count {
            DispatchQueue.global().async(group: group) { results.set(thread, body(thread, deadline)) }
        }
        group.wait()
        return (results.total, (ContinuousClock.now - start).seconds)
    }

    func removeTree(_ path: String) {
        let fs = PosixLogFileSystem()
        guard let names = try? fs.listDirectory(path) else { return }
        for name in names {
            let child = path + "/" + name
            var st = stat()
            if lstat(child, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }
}

// MARK: - Small utilities

final class ResultBox: @unchecked Sendable {
    private let queue = DispatchQueue(label: "bench.results")
    private var values: [Int]
    init(_ count: Int) { values = Array(repeating: 0, count: count) }
    func set(_ index: Int, _ value: Int) { queue.sync { values[index] = value } }
    var total: Int { queue.sync { values.reduce(0, +) } }
}

struct BenchReport {
    var text = ""
    mutating func line(_ s: String) { text += s + "\n" }
    mutating func row(_ what: String, _ result: String) {
        line("| \(what) | \(result) |")
        // Progress on stderr so a long run shows where it is.
        let bytes = Array("bench-kernel: \(what): \(result)\n".utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}

/// A tiny seeded generator so runs pick the same random nodes.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

func fmt(_ value: Double) -> String {
    if value >= 10_000_000 { return String(format1: value / 1_000_000) + " M" }
    if value >= 10_000 { return String(format1: value / 1000) + " k" }
    return String(format1: value)
}

func pct(_ value: Double) -> String { String(format1: value * 100) + " %" }
func ratio(_ value: Double) -> String { String(format1: value) + "×" }
func secs(_ value: Double) -> String { String(format1: value) + " s" }
func mib(_ bytes: Int64) -> String { String(format1: Double(bytes) / 1_048_576) + " MiB" }

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let scaled = (value * 10).rounded()
        let whole = Int64(scaled / 10)
        let tenth = Int64(abs(scaled.truncatingRemainder(dividingBy: 10)))
        self = "\(whole).\(tenth)"
    }
}

/// CPU model, core count, memory, kernel and the file system of `path`.
func machineDescription(_ path: String) -> String {
    var cpu = "unknown CPU"
    if let text = readSmallFile("/proc/cpuinfo"),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
        let colon = line.firstIndex(of: ":")
    {
        cpu = line[line.index(after: colon)...].trimmingCharacters()
    }
    let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    let memory = Double(sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))) / 1_073_741_824
    var name = utsname()
    uname(&name)
    let release = withUnsafePointer(to: name.release) {
        $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
    }
    var fsType = "unknown fs"
    if let mounts = readSmallFile("/proc/mounts") {
        var best = ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { continue }
            let mount = String(fields[1])
            if path.hasPrefix(mount) && mount.count > best.count {
                best = mount
                fsType = "\(fields[2]) on \(fields[0]) (mounted at \(mount))"
            }
        }
    }
    return "\(cpu), \(cores) cores online, \(String(format1: memory)) GiB RAM, Linux \(release), \(fsType)"
}

func readSmallFile(_ path: String) -> String? {
    guard let file = try? PosixLogFileSystem().openFile(path, create: false) else { return nil }
    defer { file.close() }
    // /proc files report size 0; read a generous fixed amount.
    guard let bytes = try? file.read(at: 0, count: 1 << 20) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

import ArgumentParser
import Cypher
import Foundation
import GraphKernel
import GraphValues

/// `trellis-tools bench-cypher`: the seeded workload of shared/bench (gen.py data; Q1–Q5 reads, W1–W3 writes)
/// run in-process through `CypherEngine` on the real kernel, so engine time is seen without Bolt or a driver.
///
/// Each operation runs in its own transaction (reads roll back, writes commit). Latency is wall-clock per
/// operation including begin/commit; CPU is the benchmark thread's CPU time per operation (the figure to compare
/// on a shared, noisy machine: other processes' load inflates wall time but not this). The answers of Q2, Q3 and
/// Q5 are checked against the CSV ground truth.
struct CypherBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-cypher",
        abstract: "Benchmark Cypher in-process over the shared/bench workload on the real kernel.")

    @Option(help: "Directory with persons.csv and knows.csv from shared/bench/gen.py.")
    var data: String

    @Option(help: "Store directory (created; removed afterwards unless --keep-store).")
    var store: String = NSTemporaryDirectory() + "trellis-bench-cypher-\(getpid())"

    @Flag(help: "Keep the store directory after the run.")
    var keepStore = false

    @Option(help: "Comma-separated operations to run.")
    var ops: String = "Q1,Q2,Q3,Q4,Q5,W1,W2,W3"

    @Option(help: "Seconds per operation (also capped by --max-ops).")
    var duration: Double = 3

    @Option(help: "Maximum operations per measurement.")
    var maxOps: Int = 20000

    @Option(help: "Warm-up operations before each measurement.")
    var warmup: Int = 20

    @Option(help: "Random seed for parameter choice.")
    var seed: UInt64 = 7

    @Option(help: "Adjacency cache size (trellis.memory.adjacency_cache.size), e.g. 512m; 0 disables it.")
    var adjacencyCache: String = "512m"

    @Option(help: "Write results as JSON to this file.")
    var json: String?

    static let queries: [String: String] = [
        "Q1": "MATCH (p:Person {id:$id}) RETURN p.name, p.age",
        "Q2": "MATCH (p:Person {id:$id})-[:KNOWS]->(f) RETURN count(f)",
        "Q3": "MATCH (p:Person {id:$id})-[:KNOWS]->()-[:KNOWS]->(fof) RETURN count(DISTINCT fof)",
        "Q4": "MATCH (p:Person) RETURN p.city AS city, count(*) AS n, avg(p.age) AS avg_age ORDER BY n DESC LIMIT 10",
        "Q5": "MATCH (p:Person {id:$id})-[:KNOWS*1..3]->(x) RETURN count(DISTINCT x)",
        "W1": "CREATE (:Person {id:$id, name:$n, age:$a, city:$c})",
        "W2": "UNWIND $rows AS r CREATE (:Person {id:r.id, name:r.name, age:r.age, city:r.city})",
        "W3": "MATCH (a:Person {id:$a}),(b:Person {id:$b}) CREATE (a)-[:KNOWS {since:2020}]->(b)",
    ]

    func run() throws {
        let personsURL = URL(fileURLWithPath: data).appendingPathComponent("persons.csv")
        let knowsURL = URL(fileURLWithPath: data).appendingPathComponent("knows.csv")
        guard FileManager.default.fileExists(atPath: personsURL.path),
              FileManager.default.fileExists(atPath: knowsURL.path) else {
            throw ValidationError("no persons.csv/knows.csv in \(data): run `python3 shared/bench/gen.py --size S --out \(data)`")
        }
        try? FileManager.default.removeItem(atPath: store)
        var configuration = KernelConfiguration()
        configuration.adjacencyCacheSizeBytes = Int(try ByteSize.parse(adjacencyCache))
        let db = try GraphDatabase(directory: store, configuration: configuration)
        defer {
            try? db.close()
            if !keepStore { try? FileManager.default.removeItem(atPath: store) }
        }
        let engine = CypherEngine()
        var rng = SplitMix64(seed: seed)

        // MARK: Load (kernel API; the benchmark is about queries)
        let loadStart = Date()
        let persons = try Self.readCSV(personsURL)
        let knows = try Self.readCSV(knowsURL)
        var outgoing: [Int: [Int]] = [:]
        for r in knows { outgoing[Int(r[0])!, default: []].append(Int(r[1])!) }
        try db.write { tx in
            _ = try engine.execute("CREATE CONSTRAINT ON (p:Person) ASSERT p.id IS UNIQUE", parameters: [:],
                                   transaction: tx).consume()
        }
        var nodeOf: [NodeID] = []
        nodeOf.reserveCapacity(persons.count)
        for batch in stride(from: 0, to: persons.count, by: 10_000) {
            try db.write { tx in
                for r in persons[batch..<min(batch + 10_000, persons.count)] {
                    nodeOf.append(try tx.createNode(labels: ["Person"], properties: [
                        "id": .integer(Int64(r[0])!), "name": .string(r[1]), "age": .integer(Int64(r[2])!),
                        "city": .string(r[3]),
                    ]))
                }
            }
        }
        for batch in stride(from: 0, to: knows.count, by: 20_000) {
            try db.write { tx in
                for r in knows[batch..<min(batch + 20_000, knows.count)] {
                    try tx.createRelationship(from: nodeOf[Int(r[0])!], to: nodeOf[Int(r[1])!], type: "KNOWS",
                                              properties: ["since": .integer(Int64(r[2])!)])
                }
            }
        }
        let loadSeconds = Date().timeIntervalSince(loadStart)
        print("loaded \(persons.count) persons, \(knows.count) KNOWS in \(String(format: "%.1f", loadSeconds)) s")

        // MARK: Plans
        for q in ["Q1", "Q2", "Q3", "Q5"] {
            let ops = try db.read { tx in
                try Self.operators(try engine.execute("EXPLAIN " + Self.queries[q]!, parameters: [:], transaction: tx).plan)
            }
            print("EXPLAIN \(q): \(ops.joined(separator: " <- "))")
            if q == "Q1" && !ops.contains(where: { $0.contains("IndexSeek") }) {
                throw ValidationError("Q1 plan has no index seek")
            }
            if ops.contains("AllNodesScan") || ops.contains("NodeByLabelScan") {
                throw ValidationError("\(q) plan scans: \(ops)")
            }
        }

        // MARK: Ground truth checks
        for _ in 0..<20 {
            let id = Int(rng.next() % UInt64(persons.count))
            let expected2 = outgoing[id]?.count ?? 0
            var fof = Set<Int>()
            for f in outgoing[id] ?? [] { for g in outgoing[f] ?? [] { fof.insert(g) } }
            // Q5 as shared/bench/workload.py computes it: the ends of walks of 1 to 3 relationships, which are
            // the ends of relationship-unique paths too (a shortest walk to a node, or a shortest closed walk back
            // to the start, repeats no relationship).
            var within3 = Set(outgoing[id] ?? [])
            var level = within3
            for _ in 0..<2 {
                var next = Set<Int>()
                for f in level { for g in outgoing[f] ?? [] { next.insert(g) } }
                within3.formUnion(next)
                level = next
            }
            let got = try db.read { tx -> (Value, Value, Value) in
                let p: [String: Value] = ["id": .integer(Int64(id))]
                let a = try engine.execute(Self.queries["Q2"]!, parameters: p, transaction: tx).all()
                let b = try engine.execute(Self.queries["Q3"]!, parameters: p, transaction: tx).all()
                let c = try engine.execute(Self.queries["Q5"]!, parameters: p, transaction: tx).all()
                return (a[0][0], b[0][0], c[0][0])
            }
            guard got.0 == .integer(Int64(expected2)), got.1 == .integer(Int64(fof.count)),
                  got.2 == .integer(Int64(within3.count)) else {
                throw ValidationError("wrong answer for id \(id): Q2 \(got.0) (expected \(expected2)), "
                                        + "Q3 \(got.1) (expected \(fof.count)), Q5 \(got.2) (expected \(within3.count))")
            }
        }
        print("Q2/Q3/Q5 answers match the CSV ground truth for 20 random ids")

        // MARK: Measurements
        var results: [[String: Any]] = []
        var nextID = persons.count + 1_000_000
        print("| op | ops | median µs | p99 µs | ops/s | CPU median µs | CPU mean µs |")
        print("|---|---|---|---|---|---|---|")
        for op in ops.split(separator: ",").map(String.init) {
            guard let query = Self.queries[op] else { throw ValidationError("unknown op \(op)") }
            let isWrite = op.hasPrefix("W")
            func params() -> [String: Value] {
                switch op {
                case "W1":
                    nextID += 1
                    return ["id": .integer(Int64(nextID)), "n": .string("Bench \(nextID)"), "a": .integer(30),
                            "c": .string("City00")]
                case "W2":
                    var rows: [Value] = []
                    for _ in 0..<1000 {
                        nextID += 1
                        rows.append(.map(["id": .integer(Int64(nextID)), "name": .string("Bench \(nextID)"),
                                          "age": .integer(40), "city": .string("City01")]))
                    }
                    return ["rows": .list(rows)]
                case "W3":
                    return ["a": .integer(Int64(rng.next() % UInt64(persons.count))),
                            "b": .integer(Int64(rng.next() % UInt64(persons.count)))]
                default:
                    return ["id": .integer(Int64(rng.next() % UInt64(persons.count)))]
                }
            }
            func once() throws {
                let p = params()
                let tx = try db.beginTransaction(mode: isWrite ? .write : .read)
                do {
                    try engine.execute(query, parameters: p, transaction: tx).consume()
                    if isWrite { try tx.commit() } else { tx.rollback() }
                } catch {
                    if tx.isOpen { tx.rollback() }
                    throw error
                }
            }
            for _ in 0..<warmup { try once() }
            var samples: [UInt64] = []
            var cpuSamples: [Double] = []
            let limit = op == "W2" ? min(maxOps, 200) : maxOps
            let start = DispatchTime.now().uptimeNanoseconds
            let deadline = start + UInt64(duration * 1e9)
            while samples.count < limit {
                let c0 = Self.threadCPUMicroseconds()
                let t0 = DispatchTime.now().uptimeNanoseconds
                try once()
                let t1 = DispatchTime.now().uptimeNanoseconds
                cpuSamples.append(Self.threadCPUMicroseconds() - c0)
                samples.append(t1 - t0)
                if t1 > deadline { break }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            samples.sort()
            let median = Double(samples[samples.count / 2]) / 1000
            let p99 = Double(samples[min(samples.count - 1, Int(Double(samples.count) * 0.99))]) / 1000
            let throughput = Double(samples.count) / elapsed
            let cpuMean = cpuSamples.reduce(0, +) / Double(cpuSamples.count)
            cpuSamples.sort()
            let cpuMedian = cpuSamples[cpuSamples.count / 2]
            print(String(format: "| %@ | %d | %.1f | %.1f | %.0f | %.1f | %.1f |", op, samples.count, median, p99,
                         throughput, cpuMedian, cpuMean))
            results.append(["op": op, "ops": samples.count, "median_us": median, "p99_us": p99,
                            "ops_per_s": throughput, "cpu_median_us": cpuMedian, "cpu_mean_us": cpuMean])
        }
        if let json {
            let doc: [String: Any] = ["persons": persons.count, "knows": knows.count, "load_s": loadSeconds,
                                      "results": results]
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    /// This thread's CPU time so far, in microseconds.
    static func threadCPUMicroseconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
    }

    static func operators(_ plan: PlanNode?) -> [String] {
        guard let plan else { return [] }
        return [plan.operatorType] + plan.children.flatMap { operators($0) }
    }

    /// The generator's CSVs: header line, then plain comma-separated fields (no quoting needed).
    static func readCSV(_ url: URL) throws -> [[String]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var rows: [[String]] = []
        for line in text.split(whereSeparator: \.isNewline).dropFirst() where !line.isEmpty {
            rows.append(line.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
        }
        return rows
    }
}

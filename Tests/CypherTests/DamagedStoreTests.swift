import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// A store damaged on disk (a flipped sector, a stray write, a bad copy) must never bring the server down: opening
/// it, reading and writing it either work or fail with a `DatabaseError` the client sees as a status code
/// (`trellis admin check-consistency` then says what is wrong). Each case damages one store file of a small graph
/// at a seeded random place and runs reads and writes over every record kind.
@Suite("Damaged store files")
struct DamagedStoreTests {
    static let queries: [(String, TransactionMode)] = [
        ("MATCH (n) RETURN n", .read),
        ("MATCH (n:Person) RETURN n.name, n.tags, n.bio ORDER BY n.name", .read),
        ("MATCH (a)-[r]->(b) RETURN a.name, type(r), r.since, b.name", .read),
        ("MATCH (h:Hub)-[r]-(x) RETURN count(r), count(DISTINCT x)", .read),
        ("MATCH (n:Person {name: 'p7'}) RETURN n", .read),
        ("MATCH p = (:Person)-[*1..3]->() RETURN count(p)", .read),
        ("MATCH (n:Person) SET n.seen = true, n.bio = n.bio + '!'", .write),
        ("MATCH (a:Person), (b:Hub) WITH a, b LIMIT 5 CREATE (a)-[:LIKES {w: 1}]->(b)", .write),
        ("MATCH ()-[r:KNOWS]->() DELETE r", .write),
        ("MATCH (n) DETACH DELETE n", .write),
        ("CREATE (:Person {name: 'after'})", .write),
    ]

    /// A graph with every record kind: labels, short and long strings, arrays, a dense hub (relationship
    /// groups), relationship properties, an index.
    func buildStore(_ directory: String) throws {
        let db = try GraphDatabase(directory: directory)
        defer { try? db.close() }
        let engine = CypherEngine()
        func run(_ query: String, _ mode: TransactionMode = .write) throws {
            let tx = try db.beginTransaction(mode: mode)
            defer { if tx.isOpen { tx.rollback() } }
            _ = try engine.execute(query, parameters: [:], transaction: tx).all()
            try tx.commit()
        }
        try run("CREATE INDEX ON :Person(name)")
        try run(
            """
            UNWIND range(0, 59) AS i
            CREATE (:Person:Member {name: 'p' + toString(i), tags: ['a', 'b', toString(i)], age: i,
                    bio: 'a biography long enough to need dynamic string records, number ' + toString(i) + ' of sixty'})
            """)
        try run(
            """
            MATCH (a:Person), (b:Person) WHERE a.age + 1 = b.age OR a.age + 7 = b.age
            CREATE (a)-[:KNOWS {since: 2000 + a.age}]->(b)
            """)
        try run("CREATE (h:Hub {name: 'hub'}) WITH h MATCH (p:Person) CREATE (p)-[:FOLLOWS]->(h), (h)-[:SEES]->(p)")
    }

    /// Runs every query; returns the errors that were not `DatabaseError`s (there must be none).
    func exercise(_ directory: String) -> [String] {
        var foreign: [String] = []
        let db: GraphDatabase
        do {
            db = try GraphDatabase(directory: directory)
        } catch is DatabaseError {
            return []
        } catch {
            return ["open: \(error)"]
        }
        defer { try? db.close() }
        let engine = CypherEngine()
        for (query, mode) in Self.queries {
            do {
                let tx = try db.beginTransaction(mode: mode)
                defer { if tx.isOpen { tx.rollback() } }
                _ = try engine.execute(query, parameters: [:], transaction: tx).all()
                try tx.commit()
            } catch is DatabaseError {
                continue
            } catch {
                foreign.append("\(query): \(error)")
            }
        }
        return foreign
    }

    @Test("damage at random places in any store file gives errors with status codes, never a crash or a hang",
          .timeLimit(.minutes(5)))
    func randomDamage() throws {
        let root = NSTemporaryDirectory() + "trellis-damaged-\(UUID().uuidString)"
        let pristine = root + "/pristine"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try buildStore(pristine)
        let files = try FileManager.default.contentsOfDirectory(atPath: pristine)
            .filter { $0.hasPrefix("neostore.") && $0.hasSuffix(".db") && $0 != "neostore.db" }
            .sorted()
        #expect(files.count >= 6, "store files found: \(files)")
        let cases = ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == "1" ? 600 : 90
        for seed in 0..<cases {
            var rng = SplitMix64(state: UInt64(seed))
            let file = files[seed % files.count]
            let copy = root + "/case-\(seed)"
            try FileManager.default.copyItem(atPath: pristine, toPath: copy)
            let path = copy + "/" + file
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            guard !bytes.isEmpty else { continue }
            // Random bytes, all ones (ids of -1 and huge lengths) or zeros, 1 to 96 bytes, 1 to 3 places.
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let start = Int.random(in: 0..<bytes.count, using: &rng)
                let end = min(bytes.count, start + Int.random(in: 1...96, using: &rng))
                let mode = Int.random(in: 0..<3, using: &rng)
                for i in start..<end {
                    bytes[i] = mode == 0 ? UInt8.random(in: 0...255, using: &rng) : (mode == 1 ? 0xFF : 0)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let foreign = exercise(copy)
            #expect(foreign.isEmpty, "seed \(seed), \(file): \(foreign)")
            try? FileManager.default.removeItem(atPath: copy)
        }
    }
}

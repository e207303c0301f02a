import Foundation
import Cypher
import GraphKernel
import GraphValues
import Logging
import TrellisService

extension ServerMain {
    /// `trellis demo`: opens an embedded database, writes a small graph and reads it back through the same
    /// session/transaction/Cypher path the Bolt and HTTP front ends use, printing each step.
    public static func demo(directory: String?, output: (String) -> Void) -> Int32 {
        let base = directory ?? (NSTemporaryDirectory() + "trellis-demo-" + UUID().uuidString)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: base) } }
        do {
            let config = try Config(home: base, overrides: ["dbms.security.auth_enabled": "false"])
            output("Opening an embedded database in \(config.databaseDirectory)")
            let database = try KernelBootstrap.open(config)
            let quiet = Logger(label: "demo") { _ in SwiftLogNoOpLogHandler() }
            let cypher = CypherEngine()
            let engine = CypherGraphEngine(database: database, cypher: cypher, importDirectory: nil)
            let auth = try AuthManager(
                enabled: false, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
                iterations: 1, logger: quiet)
            let service = TrellisDatabaseService(
                engine: engine, auth: auth, config: config, logger: quiet, queryLog: nil)
            let session = service.openSession(user: try service.authenticate(scheme: "none", principal: nil, credentials: nil))
            func run(_ query: String, _ parameters: [String: Value] = [:]) throws -> ([String], [[Value]], ResultSummary) {
                output("")
                output("> \(query)")
                let cursor = try session.run(query, parameters: parameters, options: TransactionOptions())
                var rows: [[Value]] = []
                while let row = try cursor.next() { rows.append(row) }
                return (cursor.columns, rows, try cursor.summary())
            }
            let (_, _, created) = try run(
                "CREATE (ada:Person {name: 'Ada Lovelace', born: 1815})-[:WORKED_WITH {since: 1833}]->"
                    + "(charles:Person {name: 'Charles Babbage', born: 1791}), "
                    + "(charles)-[:DESIGNED]->(:Machine {name: 'Analytical Engine'})")
            let counters = created.statistics.nonZeroCounters.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
            output("  committed: \(counters) (bookmark \(created.bookmark ?? "-"))")
            let (columns, rows, _) = try run(
                "MATCH (p:Person)-[r]->(x) RETURN p.name AS who, type(r) AS what, coalesce(x.name, '?') AS whom "
                    + "ORDER BY who, what")
            output("  " + columns.joined(separator: " | "))
            for row in rows { output("  " + row.map(Self.demoText).joined(separator: " | ")) }
            let (_, counts, _) = try run("MATCH (n) RETURN count(n) AS nodes")
            output("  nodes in the graph: \(counts.first.map { Self.demoText($0[0]) } ?? "?")")
            session.close()
            service.shutdown(grace: .seconds(1))
            output("")
            output("Closed the database (checkpointed). Start a server with `trellis console`.")
            return 0
        } catch {
            output("demo failed: \(ErrorMapping.map(error))")
            return 1
        }
    }

    static func demoText(_ v: Value) -> String {
        switch v {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .null: return "null"
        default: return "\(v)"
        }
    }
}

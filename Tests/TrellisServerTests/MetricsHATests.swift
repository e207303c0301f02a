import Foundation
import Testing

@testable import TrellisServer

/// The HA metrics (neo4j-ha.md §8) of members running over the real transport: role gauges, update pulls and the
/// data port's byte counters, sampled as the reporters sample them.
extension HAClusterTests {
    func metrics(_ id: Int) -> [String: Double] {
        let system = members[id]!.connectors.compactMap { $0 as? MetricsSystem }.first!
        return Dictionary(system.registry.collect().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("HA metrics: is_master/is_available per role, pulls, and bytes for store copies, pulls and forwarded writes")
    func haMetrics() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            let (master, slaves) = try startThreeAndAwaitElection()
            try run(master, "CREATE (:Counted {n: 1})")
            try run(slaves[0], "CREATE (:Counted {n: 2})")  // forwarded to the master
            for s in slaves { try eventually("slave \(s) has both writes") { try count(s, "Counted") == 2 } }

            let m = metrics(master)
            #expect(m["neo4j.cluster.is_master"] == 1)
            #expect(m["neo4j.cluster.is_available"] == 1)
            // The slaves replaced their own new stores by copies of the master's, then received its transactions.
            #expect((m["neo4j.network.master_network_store_writes"] ?? 0) > 0)
            #expect((m["neo4j.network.master_network_tx_writes"] ?? 0) > 0)
            #expect(m["neo4j.network.slave_network_tx_writes"] == 0)
            for s in slaves {
                let sm = metrics(s)
                #expect(sm["neo4j.cluster.is_master"] == 0)
                #expect(sm["neo4j.cluster.is_available"] == 1)
                #expect(sm["neo4j.network.master_network_store_writes"] == 0)
            }
            #expect((metrics(slaves[0])["neo4j.network.slave_network_tx_writes"] ?? 0) > 0)
            #expect(metrics(slaves[1])["neo4j.network.slave_network_tx_writes"] == 0)
            // With ha.tx_push_factor=1 at most one slave gets each push; the others pull. Some slave has pulled.
            let lastTx = Double(ha(master).database.lastCommittedTxID.rawValue)
            try eventually("a slave reports a pull up to the last transaction") {
                slaves.contains { s in
                    let sm = metrics(s)
                    return (sm["neo4j.cluster.slave_pull_updates"] ?? 0) >= 1
                        && (1...lastTx).contains(sm["neo4j.cluster.slave_pull_update_up_to_tx"] ?? 0)
                }
            }
        }
    }
}

import Foundation
import GraphValues
import Testing
import TrellisService

@testable import TrellisServer

/// What the HA suites (`HAInstanceTests` over the in-process transport, `HAClusterTests` over TCP) do with their
/// members: run Cypher on one, count nodes, look at roles, wait for asynchronous effects, stop them all.
protocol HAMemberHolder: AnyObject {
    /// Running members by `ha.server_id`.
    var members: [Int: ServerInstance] { get set }
}

extension HAMemberHolder {
    func stopAll() {
        for id in members.keys.sorted() { members.removeValue(forKey: id)?.shutdown() }
    }

    func ha(_ id: Int) -> HAInstance { members[id]!.ha! }

    /// Runs `query` in an auto-commit transaction on member `id` and returns all rows.
    @discardableResult
    func run(_ id: Int, _ query: String, mode: AccessMode = .write) throws -> [[Value]] {
        let session = members[id]!.service.openSession(
            user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
        defer { session.close() }
        let cursor = try session.run(query, parameters: [:], options: TransactionOptions(mode: mode))
        var rows: [[Value]] = []
        while let row = try cursor.next() { rows.append(row) }
        _ = try cursor.summary()
        return rows
    }

    /// Nodes with `label` on member `id`.
    func count(_ id: Int, _ label: String) throws -> Int64 {
        guard case .integer(let n) = try run(id, "MATCH (n:\(label)) RETURN count(n)", mode: .read)[0][0] else {
            Issue.record("count did not return an integer")
            return -1
        }
        return n
    }

    /// Bounded polling for asynchronous effects (role switches, pulls, store copies): never a fixed sleep.
    func eventually(_ what: String, within: Duration = .seconds(15), _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return }
            usleep(10_000)
        }
        #expect(try condition(), "timed out waiting for: \(what)")
    }

    /// The member ids currently master and slave (available ones only).
    func roles() -> (masters: [Int], slaves: [Int]) {
        let live = members.keys.sorted()
        return (live.filter { ha($0).roleName == "master" }, live.filter { ha($0).roleName == "slave" })
    }
}

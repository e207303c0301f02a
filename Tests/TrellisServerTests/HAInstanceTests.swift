import ClusterCore
import Foundation
import GraphKernel
import GraphValues
import HTTPAPI
import Logging
import Testing
import TrellisService

@testable import TrellisServer

/// HA members as `trellis` runs them (`ServerInstance.start` with `dbms.mode=HA`: real stores, Bolt on ephemeral
/// ports) over the in-process transport, where the test decides the elections (neo4j-ha.md §1, §5, §6).
@Suite("HA instance: role switching, replication, forwarding, branches", .serialized)
final class HAInstanceTests: HAMemberHolder, @unchecked Sendable {
    let dir: TemporaryDirectory
    let cluster = InProcessCluster()
    var members: [Int: ServerInstance] = [:]

    init() throws {
        dir = try TemporaryDirectory()
    }

    func start(_ id: Int, _ overrides: [String: String] = [:]) throws -> ServerInstance {
        var settings = [
            "dbms.mode": "HA", "ha.server_id": "\(id)",
            "ha.initial_hosts": "127.0.0.1:5001,127.0.0.1:5002,127.0.0.1:5003",
            "ha.host.coordination": "127.0.0.1:0", "ha.host.data": "127.0.0.1:0",
            "dbms.connector.bolt.listen_address": "127.0.0.1:0", "dbms.connector.http.enabled": "false",
            "dbms.connectors.default_advertised_address": "127.0.0.1", "dbms.security.auth_enabled": "false",
            "ha.pull_interval": "100ms", "dbms.checkpoint.interval.time": "15m",
        ]
        for (k, v) in overrides { settings[k] = v }
        let config = try Config(home: dir.path + "/member\(id)", overrides: settings)
        let logs = try LogSystem(config: config, echoUserLog: false)
        let instance = try ServerInstance.start(
            config: config, logs: logs, openDatabase: KernelBootstrap.open, haTransport: cluster.transport)
        members[id] = instance
        return instance
    }

    func stop(_ id: Int) {
        members.removeValue(forKey: id)?.shutdown()
    }

    func expectUnavailable(_ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected DatabaseUnavailable")
        } catch let error as DatabaseError {
            #expect(error.code == .databaseUnavailable, "\(error)")
            #expect(error.code.isTransient)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("pending refuses writes with a transient error and serves reads; a master's writes reach its slaves")
    func electionPushAndPull() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            for id in 1...3 { try start(id) }
            expectUnavailable { try run(1, "CREATE (:Early)") }
            // Not joined yet: its store is not known to be the cluster's, so not even reads run on it.
            expectUnavailable { try run(2, "RETURN 1 AS one", mode: .read) }
            #expect(ha(1).roleName == "UNKNOWN")

            cluster.elect(MemberID(1), epoch: 1)
            try eventually("member 1 master, 2 and 3 slaves") {
                ha(1).roleName == "master" && ha(2).roleName == "slave" && ha(3).roleName == "slave"
            }
            #expect(ha(1).currentRole == .master && ha(1).isAvailable)
            #expect(try run(2, "RETURN 1 AS one", mode: .read) == [[.integer(1)]])
            #expect(try run(3, "CALL dbms.cluster.role()") == [[.string("slave")]], "dbms.* runs on the member asked")

            try run(1, "CREATE (:Person {name: 'Ada'})")
            // tx_push_factor=1, fixed_ascending: member 2 had the transaction before the commit returned.
            #expect(try count(2, "Person") == 1)
            try eventually("member 3 pulled it") { try count(3, "Person") == 1 }
            #expect(try count(1, "Person") == 1)
            // Slaves refuse local writes in READ mode like any instance; the gate guards the store itself.
            #expect(throws: DatabaseError.self) { try run(2, "CREATE (:Local)", mode: .read) }
        }
    }

    @Test("a WRITE transaction on a slave runs on the master and is readable on that slave when commit returns")
    func forwardedWrite() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            for id in 1...3 { try start(id, ["ha.pull_interval": "0s", "ha.tx_push_strategy": "fixed_descending"]) }
            cluster.elect(MemberID(1), epoch: 1)
            // Each member switches on its own queue: wait for the master's switch too, not only the slaves'.
            try eventually("roles") {
                ha(1).roleName == "master" && ha(2).roleName == "slave" && ha(3).roleName == "slave"
            }
            let rows = try run(3, "CREATE (n:Written {place: 'slave'}) RETURN n.place AS place")
            #expect(rows == [[.string("slave")]])
            // No periodic pull: member 3 read its own write because commit caught up before returning.
            #expect(try count(3, "Written") == 1)
            #expect(try count(1, "Written") == 1, "the write was made on the master")
            #expect(ha(1).forwarded.openCount == 0)
            // The master does not push a slave's own transaction back to it (neo4j-ha.md §6): with
            // fixed_descending member 3 would be the first pick otherwise. (Token creations are the master's own
            // transactions, so the second write, which creates none, is the one counted.)
            let member3 = "127.0.0.1:\(ha(3).boundDataPort)"
            let before = cluster.pushes.withLock { $0[member3] ?? 0 }
            try run(3, "CREATE (n:Written {place: 'again'})")
            #expect(cluster.pushes.withLock { $0[member3] ?? 0 } == before)
            #expect(try count(3, "Written") == 2)

            // An explicit transaction: several statements, one forwarded transaction, rolled back as a whole.
            let session = members[2]!.service.openSession(
                user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
            try session.beginTransaction(TransactionOptions(mode: .write))
            try session.run("CREATE (:Discarded)", parameters: [:], options: TransactionOptions()).discardRemaining()
            try session.run("CREATE (:Discarded)", parameters: [:], options: TransactionOptions()).discardRemaining()
            #expect(ha(1).forwarded.openCount == 1)
            try session.rollback()
            session.close()
            #expect(ha(1).forwarded.openCount == 0)
            #expect(try count(1, "Discarded") == 0)

            // A failing statement keeps its Neo4j code across the forward.
            do {
                try run(2, "RETURN 1 / 0")
                Issue.record("division by zero should fail")
            } catch let error as DatabaseError {
                #expect(error.code.rawValue.hasPrefix("Neo.ClientError."), "\(error)")
            }
        }
    }

    @Test("a bookmark from the master makes a read on a slave fetch that transaction first")
    func bookmarkOnSlave() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            try start(1, ["ha.tx_push_factor": "0"])
            try start(2, ["ha.pull_interval": "0s"])
            cluster.elect(MemberID(1), epoch: 1)
            try eventually("1 master, 2 slave") { ha(1).roleName == "master" && ha(2).roleName == "slave" }
            let writer = members[1]!.service.openSession(
                user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
            try writer.beginTransaction(TransactionOptions(mode: .write))
            try writer.run("CREATE (:Bookmarked)", parameters: [:], options: TransactionOptions()).discardRemaining()
            let bookmark = try writer.commit()
            writer.close()
            #expect(try count(2, "Bookmarked") == 0, "no push, no pull: the slave does not have it yet")
            let reader = members[2]!.service.openSession(
                user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
            defer { reader.close() }
            let cursor = try reader.run(
                "MATCH (n:Bookmarked) RETURN count(n)", parameters: [:],
                options: TransactionOptions(mode: .read, bookmarks: [bookmark]))
            #expect(try cursor.next() == [.integer(1)])
            _ = try cursor.next()
        }
    }

    @Test("routing table, JMX bean and status follow the roles")
    func operationsSurface() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            for id in 1...3 { try start(id) }
            cluster.elect(MemberID(2), epoch: 1)
            try eventually("roles") {
                ha(2).roleName == "master" && ha(1).roleName == "slave" && ha(3).roleName == "slave"
            }
            let bolt = (1...3).map { "127.0.0.1:\(members[$0]!.bolt!.port!)" }
            let table = try members[1]!.service.routingTable(context: [:], database: nil)
            #expect(table.writers == [bolt[1]])
            #expect(table.readers.sorted() == [bolt[0], bolt[2]].sorted())
            #expect(table.routers.sorted() == bolt.sorted())

            let jmx = try run(3, "CALL dbms.queryJmx('org.neo4j:instance=kernel#0,name=High Availability')")
            #expect(jmx.count == 1)
            guard case .map(let attributes) = jmx.first?[2], case .map(let role) = attributes["Role"],
                case .map(let instances) = attributes["InstancesInCluster"], case .list(let list) = instances["value"]
            else {
                Issue.record("unexpected JMX shape \(jmx)")
                return
            }
            #expect(role["value"] == .string("slave"))
            #expect(list.count == 3)
            #expect(try run(3, "CALL dbms.queryJmx('org.neo4j:name=Nothing*')").isEmpty)
            let overview = try run(1, "CALL dbms.cluster.overview() YIELD id, role RETURN id, role ORDER BY id")
            #expect(overview == [[.string("1"), .string("slave")], [.string("2"), .string("master")],
                                 [.string("3"), .string("slave")]])
            #expect(ha(2).currentRole == .master && ha(1).currentRole == .slave)
        }
    }

    @Test("when the master stops, the newly elected master takes writes and the other slave follows it")
    func failover() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            for id in 1...3 { try start(id) }
            cluster.elect(MemberID(1), epoch: 1)
            // Each member switches on its own queue: wait for the master's switch too, not only the slaves'.
            try eventually("roles") {
                ha(1).roleName == "master" && ha(2).roleName == "slave" && ha(3).roleName == "slave"
            }
            try run(1, "CREATE (:Before)")
            try eventually("slaves have it") { try count(2, "Before") == 1 && count(3, "Before") == 1 }

            stop(1)
            cluster.allPending()
            try eventually("pending") { ha(2).roleName == "UNKNOWN" && ha(3).roleName == "UNKNOWN" }
            expectUnavailable { try run(2, "CREATE (:DuringElection)") }
            #expect(try count(3, "Before") == 1, "reads go on without a master")

            cluster.elect(MemberID(2), epoch: 2)
            try eventually("member 2 master") { ha(2).roleName == "master" && ha(3).roleName == "slave" }
            try run(2, "CREATE (:After)")
            try eventually("member 3 follows the new master") { try count(3, "After") == 1 }
            try run(3, "CREATE (:ForwardedToNewMaster)")
            #expect(try count(2, "ForwardedToNewMaster") == 1)
        }
    }

    @Test("a slave whose store diverged keeps it under branched/ and continues from a copy of the master's")
    func branchedStore() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            // No pushes and no pulls from member 1, so member 1 misses member 2's last write.
            try start(1, ["ha.pull_interval": "0s"])
            try start(2, ["ha.tx_push_factor": "0"])
            cluster.elect(MemberID(2), epoch: 1)
            try eventually("2 master, 1 its slave") { ha(2).roleName == "master" && ha(1).roleName == "slave" }
            try run(2, "CREATE (:Shared)")
            #expect(ha(1).updateNow().hasPrefix("Update completed"))
            #expect(try count(1, "Shared") == 1)
            try run(2, "CREATE (:OnlyOnOldMaster)")
            #expect(try count(1, "OnlyOnOldMaster") == 0)

            cluster.elect(MemberID(1), epoch: 2)
            try eventually("1 master") { ha(1).roleName == "master" }
            try run(1, "CREATE (:NewHistory)")
            try eventually("2 rejoined as slave from a store copy") {
                try ha(2).roleName == "slave" && count(2, "NewHistory") == 1
            }
            #expect(try count(2, "OnlyOnOldMaster") == 0, "the diverged transaction is gone from the live store")
            #expect(try count(2, "Shared") == 1)
            let branched = members[2]!.config.databaseDirectory + "/branched"
            let branches = try FileManager.default.contentsOfDirectory(atPath: branched)
            #expect(branches.count == 1, "keep_all keeps the old store: \(branches)")
            let log = try String(contentsOfFile: members[2]!.config.logsDirectory + "/trellis.log", encoding: .utf8)
            #expect(log.contains("Branched data detected"))
            #expect(log.contains("Copying store from master"))
            #expect(log.contains("Now caught up with master"))
            // Writes through the re-copied slave still work.
            try run(2, "CREATE (:AfterCopy)")
            #expect(try count(1, "AfterCopy") == 1)
        }
    }

    @Test("a member told of a new master serves no reads until its store is checked against it; pending reads go on")
    func noStaleReadsWhileVerifying() async throws {
        try await offPool { [self] in
            defer {
                cluster.joinsHeld.withLock { $0 = false }
                stopAll()
            }
            try start(1, ["ha.pull_interval": "0s"])
            try start(2, ["ha.tx_push_factor": "0"])
            cluster.elect(MemberID(2), epoch: 1)
            try eventually("2 master, 1 its slave") { ha(2).roleName == "master" && ha(1).roleName == "slave" }
            try run(2, "CREATE (:Shared)")
            #expect(ha(1).updateNow().hasPrefix("Update completed"))
            // Committed under push factor 0 and never pulled: only the old master has it.
            try run(2, "CREATE (:OnlyOnOldMaster)")

            // No master: both verified stores keep serving reads (writes are refused).
            cluster.allPending()
            try eventually("both pending") { ha(1).roleName == "UNKNOWN" && ha(2).roleName == "UNKNOWN" }
            #expect(try count(1, "Shared") == 1)
            #expect(try count(2, "OnlyOnOldMaster") == 1)
            expectUnavailable { try run(1, "CREATE (:Refused)") }

            // Member 1 wins epoch 2. From the moment member 2 hears of it, its diverged store serves nothing, even
            // while its branch check is held up.
            cluster.joinsHeld.withLock { $0 = true }
            cluster.elect(MemberID(1), epoch: 2)
            expectUnavailable { _ = try count(2, "OnlyOnOldMaster") }
            do {
                _ = try count(2, "Shared")
                Issue.record("a switching member served a read")
            } catch let error as DatabaseError {
                #expect(error.message.contains("switching to slave of instance 1"), "\(error)")
            }
            try eventually("1 master") { ha(1).roleName == "master" }
            #expect(try count(1, "Shared") == 1, "the new master serves reads")
            expectUnavailable { _ = try count(2, "Shared") }
            #expect(ha(2).roleName == "UNKNOWN")

            cluster.joinsHeld.withLock { $0 = false }
            try eventually("2 rejoined as slave from a store copy") { ha(2).roleName == "slave" }
            #expect(try count(2, "OnlyOnOldMaster") == 0, "the diverged transaction is never served again")
            #expect(try count(2, "Shared") == 1)
            let log = try String(contentsOfFile: members[2]!.config.logsDirectory + "/trellis.log", encoding: .utf8)
            #expect(log.contains("learned of master instance 1 in epoch 2: no transactions are served here"))

            // The same master in the same epoch again (a repeated event) keeps the verified store serving.
            cluster.elect(MemberID(1), epoch: 2)
            #expect(try count(2, "Shared") == 1)
        }
    }

    @Test("copy_then_branch: a failed copy leaves the old store in place and open; the retry moves it away")
    func copyThenBranch() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            let strategy = ["ha.branched_data_copying_strategy": "copy_then_branch"]
            try start(1, strategy.merging(["ha.pull_interval": "0s"]) { $1 })
            try start(2, strategy.merging(["ha.tx_push_factor": "0"]) { $1 })
            cluster.elect(MemberID(2), epoch: 1)
            try eventually("2 master, 1 its slave") { ha(2).roleName == "master" && ha(1).roleName == "slave" }
            try run(2, "CREATE (:Shared)")
            #expect(ha(1).updateNow().hasPrefix("Update completed"))
            try run(2, "CREATE (:OnlyOnOldMaster)")

            // Member 2's first copy attempt fails half-way.
            cluster.failingStoreCopies.withLock { $0 = 1 }
            cluster.elect(MemberID(1), epoch: 2)
            try eventually("1 master") { ha(1).roleName == "master" }
            try run(1, "CREATE (:NewHistory)")
            let logPath = members[2]!.config.logsDirectory + "/trellis.log"
            try eventually("2's failed copy is logged") {
                try String(contentsOfFile: logPath, encoding: .utf8).contains("The store copy from the master failed")
            }
            // Still its old store, in place and open: nothing was moved away. It is not served meanwhile (it is
            // known not to be the cluster's data).
            let database = members[2]!.config.databaseDirectory
            #expect(!FileManager.default.fileExists(atPath: database + "/branched"))
            #expect(FileManager.default.fileExists(atPath: database + "/neostore"))
            #expect(ha(2).database.lastCommittedTxID.rawValue > 1)
            expectUnavailable { _ = try count(2, "Shared") }

            try eventually("2 rejoined as slave from a store copy", within: .seconds(30)) {
                try ha(2).roleName == "slave" && count(2, "NewHistory") == 1
            }
            #expect(try count(2, "OnlyOnOldMaster") == 0)
            let branches = try FileManager.default.contentsOfDirectory(atPath: database + "/branched")
            #expect(branches.count == 1, "keep_all keeps the old store: \(branches)")
            // The copy's staging directory is gone.
            let staging = (try? FileManager.default.contentsOfDirectory(atPath: database + "/temp-copy")) ?? []
            #expect(staging.filter { $0.hasPrefix("copy-") }.isEmpty, "\(staging)")
            let log = try String(contentsOfFile: logPath, encoding: .utf8)
            #expect(log.contains("copy_then_branch"))
            #expect(log.contains("Branched data detected"))
            try run(2, "CREATE (:AfterCopy)")
            #expect(try count(1, "AfterCopy") == 1)
        }
    }
}

@Suite("HA settings are checked at start-up")
struct HAConfigurationTests {
    func configuration(_ overrides: [String: String]) throws -> HAConfiguration {
        var settings = ["dbms.mode": "HA", "ha.server_id": "1", "ha.initial_hosts": "a:5001,b:5001,c:5001"]
        for (k, v) in overrides { settings[k] = v }
        return try HAConfiguration(config: try Config(home: "/tmp/unused", overrides: settings))
    }

    func message(_ overrides: [String: String]) -> String {
        do {
            _ = try configuration(overrides)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("defaults: fast failure detection, push factor 1 ascending, optimistic, 1s pulls")
    func defaults() throws {
        let c = try configuration([:])
        #expect(c.serverID == MemberID(1))
        #expect(c.kind == .data(slaveOnly: false))
        #expect(c.heartbeatInterval == .milliseconds(500) && c.heartbeatTimeout == .seconds(2))
        #expect(c.pushFactor == 1 && c.pushStrategy == .fixedAscending && !c.pushStrict)
        #expect(c.pullInterval == .seconds(1))
        #expect(!c.copyThenBranch)
        #expect(try configuration(["ha.branched_data_copying_strategy": "copy_then_branch"]).copyThenBranch)
        #expect(c.coordinationPorts == 5001...5099 && c.dataPorts == 6001...6011)
        #expect(try configuration(["dbms.mode": "ARBITER"]).kind == .arbiter)
        #expect(try configuration(["ha.slave_only": "true", "ha.tx_push_strict": "true",
                                   "ha.tx_push_strategy": "round_robin"]).pushStrategy == .roundRobin)
    }

    @Test("advertised coordination and data addresses replace the bound ones; missing parts come from them")
    func advertisedAddresses() throws {
        let plain = try configuration(["ha.host.coordination": "10.0.0.5:5001", "ha.host.data": "10.0.0.5:6001"])
        #expect(plain.advertisedCoordination(boundPort: 5001) == "10.0.0.5:5001")
        #expect(plain.advertisedData(boundPort: 6001) == "10.0.0.5:6001")
        let proxied = try configuration([
            "ha.host.coordination": "127.0.0.1:5001", "ha.host.coordination.advertised_address": "proxy:7001",
            "ha.host.data": "127.0.0.1:6001", "ha.host.data.advertised_address": "proxy:8001",
        ])
        #expect(proxied.advertisedCoordination(boundPort: 5001) == "proxy:7001")
        #expect(proxied.advertisedData(boundPort: 6001) == "proxy:8001")
        let partial = try configuration([
            "ha.host.coordination": "10.0.0.5:5001-5099", "ha.host.coordination.advertised_address": ":7001",
            "ha.host.data.advertised_address": "gateway",
        ])
        #expect(partial.advertisedCoordination(boundPort: 5003) == "10.0.0.5:7001")
        #expect(partial.advertisedData(boundPort: 6002) == "gateway:6002", "the wildcard data host is replaced")
        #expect(message(["ha.host.coordination.advertised_address": "a b:1"])
            .contains("ha.host.coordination.advertised_address"))
    }

    @Test("a member announces its advertised coordination address, and the data address the others dial")
    func announcesAdvertisedAddresses() async throws {
        let dir = try TemporaryDirectory()
        let cluster = InProcessCluster()
        let config = try Config(home: dir.path + "/member1", overrides: [
            "dbms.mode": "HA", "ha.server_id": "1", "ha.initial_hosts": "proxy:7001,proxy:7002",
            "ha.host.coordination": "127.0.0.1:0", "ha.host.coordination.advertised_address": "proxy:7001",
            "ha.host.data": "127.0.0.1:0", "ha.host.data.advertised_address": "proxy:8001",
            "dbms.connector.bolt.listen_address": "127.0.0.1:0", "dbms.connector.http.enabled": "false",
            "dbms.security.auth_enabled": "false",
        ])
        try await offPool {
            let logs = try LogSystem(config: config, echoUserLog: false)
            let instance = try ServerInstance.start(
                config: config, logs: logs, openDatabase: KernelBootstrap.open, haTransport: cluster.transport)
            defer { instance.shutdown() }
            let me = try #require(instance.ha?.members.first { $0.id == MemberID(1) })
            #expect(me.data == "proxy:8001")
            let announced = cluster.state.withLock { $0.members[MemberID(1)]?.coordinator.settings }
            #expect(announced?.coordinationAddress == "proxy:7001")
            #expect(announced?.listenHost == "127.0.0.1")
        }
    }

    @Test("missing server id or initial hosts, bad addresses and inconsistent time-outs are refused by name")
    func refused() {
        #expect(message(["ha.server_id": ""]).contains("ha.server_id is mandatory"))
        #expect(message(["ha.initial_hosts": ""]).contains("ha.initial_hosts is mandatory"))
        #expect(message(["ha.initial_hosts": "a:5001,b"]).contains("'b' is not a host:port"))
        #expect(message(["ha.initial_hosts": "a:5001,b:0"]).contains("'b:0'"))
        #expect(message(["ha.heartbeat_interval": "1s", "ha.heartbeat_timeout": "1500ms"])
            .contains("at least twice ha.heartbeat_interval"))
        #expect(message(["dbms.mode": "SINGLE"]).contains("only read for dbms.mode=HA"))
        #expect(message(["ha.branched_data_copying_strategy": "branch_later"]).contains("copy_then_branch"))
        #expect(HAConfiguration.isHostPort("[::1]:5001"))
        #expect(!HAConfiguration.isHostPort("::1:5001"))
    }
}

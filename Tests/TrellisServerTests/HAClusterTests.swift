import ClusterCore
import Foundation
import GraphKernel
import GraphValues
import Testing
import TrellisService

@testable import TrellisServer

/// Three HA members in this process over the real transport (ClusterNIO coordination and data port on loopback
/// TCP): they elect a master by themselves, replicate, forward slave writes, and fail over when the master stops.
@Suite("HA cluster over TCP", .serialized)
final class HAClusterTests: HAMemberHolder, @unchecked Sendable {
    let dir: TemporaryDirectory
    var members: [Int: ServerInstance] = [:]
    let coordinationPorts: [Int]

    init() throws {
        dir = try TemporaryDirectory()
        coordinationPorts = try (1...3).map { _ in try Self.freePort() }
    }

    /// A port nobody listens on right now (bound once by the kernel, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else { throw LifecycleError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func start(_ id: Int, dataPort: Int = 0) throws {
        let config = try Config(home: dir.path + "/member\(id)", overrides: [
            "dbms.mode": "HA", "ha.server_id": "\(id)",
            "ha.initial_hosts": coordinationPorts.map { "127.0.0.1:\($0)" }.joined(separator: ","),
            "ha.host.coordination": "127.0.0.1:\(coordinationPorts[id - 1])", "ha.host.data": "127.0.0.1:\(dataPort)",
            "ha.heartbeat_interval": "100ms", "ha.heartbeat_timeout": "600ms", "ha.election_timeout": "300ms",
            "ha.pull_interval": "100ms", "ha.slave_read_timeout": "5s",
            "dbms.connector.bolt.listen_address": "127.0.0.1:0", "dbms.connector.http.enabled": "false",
            "dbms.connectors.default_advertised_address": "127.0.0.1", "dbms.security.auth_enabled": "false",
        ])
        let logs = try LogSystem(config: config, echoUserLog: false)
        members[id] = try ServerInstance.start(config: config, logs: logs, openDatabase: KernelBootstrap.open)
    }

    /// Starts members 1–3 and waits (bounded) until they have elected one master and two slaves.
    func startThreeAndAwaitElection() throws -> (master: Int, slaves: [Int]) {
        for id in 1...3 { try start(id) }
        try eventually("one master and two slaves") { roles().masters.count == 1 && roles().slaves.count == 2 }
        let elected = roles()
        return (try #require(elected.masters.first), elected.slaves)
    }

    @Test("a member whose coordination port is taken fails to start, names the setting and leaves nothing bound")
    func coordinationPortTaken() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            // Occupy member 1's coordination port.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(coordinationPorts[0]).bigEndian
            let listening = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 && listen(fd, 1) == 0
                }
            }
            #expect(listening)
            let dataPort = try Self.freePort()
            do {
                try start(1, dataPort: dataPort)
                Issue.record("start should fail while ha.host.coordination is taken")
            } catch {
                #expect("\(error)".contains("ha.host.coordination"), "\(error)")
            }
            #expect(members[1] == nil)
            // The data port it had bound before is released again.
            #expect(!Launcher.canConnect(host: "127.0.0.1", port: dataPort))
        }
    }

    @Test("three members elect one master, replicate, forward slave writes and fail over when the master stops")
    func electReplicateFailover() async throws {
        try await offPool { [self] in
            defer { stopAll() }
            let (master, slaves) = try startThreeAndAwaitElection()

            try run(master, "CREATE (:Replicated {n: 1})")
            for s in slaves { try eventually("slave \(s) has the write") { try count(s, "Replicated") == 1 } }
            // Every member started with its own empty store (its own store id); joining the master replaced the
            // slaves' stores by copies of the master's, so the cluster holds one database.
            let masterStore = ha(master).database.storeID
            for s in slaves { #expect(ha(s).database.storeID == masterStore) }

            // A WRITE transaction sent to a slave runs on the master and is readable on that slave at once.
            try run(slaves[1], "CREATE (:ViaSlave)")
            #expect(try count(slaves[1], "ViaSlave") == 1)
            #expect(try count(master, "ViaSlave") == 1)

            let table = try members[slaves[0]]!.service.routingTable(context: [:], database: nil)
            #expect(table.writers == ["127.0.0.1:\(members[master]!.bolt!.port!)"])
            #expect(table.readers.count == 2)

            members.removeValue(forKey: master)!.shutdown()
            try eventually("a new master among the survivors", within: .seconds(20)) {
                roles().masters.count == 1 && roles().slaves.count == 1
            }
            let newMaster = roles().masters[0]
            let survivor = roles().slaves[0]
            try run(newMaster, "CREATE (:AfterFailover)")
            try eventually("the surviving slave follows") { try count(survivor, "AfterFailover") == 1 }
            let counts = (try count(survivor, "Replicated"), try count(survivor, "ViaSlave"))
            if counts != (1, 1) {
                for id in members.keys.sorted() {
                    let log = (try? String(contentsOfFile: members[id]!.config.logsDirectory + "/trellis.log",
                                           encoding: .utf8)) ?? ""
                    FileHandle.standardError.write(Data("== member \(id)\n\(log)\n".utf8))
                }
            }
            #expect(counts.0 == 1 && counts.1 == 1, "\(counts)")
            try run(survivor, "CREATE (:ForwardedAfterFailover)")
            #expect(try count(newMaster, "ForwardedAfterFailover") == 1)
        }
    }
}

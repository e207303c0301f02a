import ClusterCore
import Logging
import Testing
@testable import ClusterNIO

/// Membership by handshake: ids are learned from hellos; wrong members are refused and logged.
@Suite("Coordination: membership", .serialized)
struct CoordinationMembershipTests {
    @Test("two members claiming one server id: the second is refused and the log says why")
    func duplicateServerIDs() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 2)])
            #expect(await eventually { cluster.log.contains("duplicate server id") })
            // Member 1 knows at most one member 2 and still reaches a majority of the three initial hosts with it.
            #expect(await eventually {
                if case .master = cluster.services[0]!.snapshot.event { return true }
                return false
            })
            #expect(cluster.services[0]!.snapshot.members.map(\.id.rawValue) == [1, 2])
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("a member whose own coordination address is not in ha.initial_hosts says so at start")
    func ownAddressNotListed() async throws {
        let cluster = TestCluster()
        do {
            cluster.specs = [TestMemberSpec(id: 1)]
            cluster.ports = try await reservePorts(2, group: cluster.group)
            var settings = cluster.settings(for: 0)
            // Lists only a peer: the peers would refuse this member, which would otherwise wait silently.
            settings.initialHosts = ["127.0.0.1:\(cluster.ports[1])"]
            var logger = Logger(label: "coordination-test") { _ in CapturingLogHandler(log: cluster.log) }
            logger.logLevel = .info
            let service = CoordinationService(settings: settings, group: cluster.group, logger: logger,
                                              lastCommitted: { LogPosition(lastCommittedTx: 1) },
                                              lastCommittedEpoch: { Epoch(0) })
            try await service.start()
            cluster.services[0] = service
            #expect(cluster.log.contains("127.0.0.1:\(cluster.ports[0])"))
            let listed = "is not in ha.initial_hosts [127.0.0.1:\(cluster.ports[1])]: the other members will refuse it"
            #expect(cluster.log.contains(listed))
        }
        await cluster.shutdown()
    }

    @Test("a member of another cluster is refused even when it lists our hosts")
    func foreignClusterMember() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 3)])
            #expect(await eventually { cluster.stableMaster() != nil })
            let ports = try await reservePorts(1, group: cluster.group)
            var settings = cluster.settings(for: 0)
            settings.me = MemberID(4)
            settings.listenPort = ports[0]
            settings.addresses = MemberAddresses(coordination: "127.0.0.1:\(ports[0])")
            settings.initialHosts = cluster.initialHosts + ["127.0.0.1:\(ports[0])"]
            settings.stateDirectory = cluster.root + "/foreign"
            settings.clusterName = "someone.else"
            let logger = Logger(label: "foreign") { _ in CapturingLogHandler(log: cluster.log) }
            let foreign = CoordinationService(settings: settings, group: cluster.group, logger: logger,
                                              lastCommitted: { LogPosition(lastCommittedTx: 1_000) })
            try await foreign.start()
            #expect(await eventually { cluster.log.contains("belongs to cluster 'someone.else'") })
            #expect(await eventually { cluster.log.contains("refused this member") })
            #expect(foreign.snapshot.members.count == 1)
            #expect(cluster.services[0]!.snapshot.members.count == 3)
            await foreign.stop()
        }
        await cluster.shutdown()
    }

    @Test("the snapshot lists advertised addresses, kinds and last committed positions")
    func snapshotContents() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([
                TestMemberSpec(id: 1, lastCommitted: 10), TestMemberSpec(id: 2, lastCommitted: 7),
                TestMemberSpec(id: 3, kind: .arbiter, lastCommitted: 0),
            ])
            var master: Int?
            #expect(await eventually { master = cluster.stableMaster(); return master != nil })
            #expect(master == 0)
            let data = MemberKind.data(slaveOnly: false)
            let expected: [MemberStatus] = [
                MemberStatus(id: MemberID(1), kind: data, addresses: cluster.settings(for: 0).addresses,
                             alive: true, role: "master", lastCommitted: LogPosition(lastCommittedTx: 10)),
                MemberStatus(id: MemberID(2), kind: data, addresses: cluster.settings(for: 1).addresses,
                             alive: true, role: "slave", lastCommitted: LogPosition(lastCommittedTx: 7)),
                MemberStatus(id: MemberID(3), kind: .arbiter, addresses: cluster.settings(for: 2).addresses,
                             alive: true, role: "arbiter", lastCommitted: LogPosition(lastCommittedTx: 0)),
            ]
            #expect(await eventually { cluster.services[1]!.snapshot.members == expected })
            #expect(cluster.services[1]!.snapshot.event
                == .slave(master: MemberID(1), epoch: try #require(cluster.epoch(of: 0)),
                          masterAddresses: cluster.settings(for: 0).addresses))
        }
        await cluster.shutdown()
    }

    @Test("a listener registered late is told the current role at once")
    func lateListener() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 3)])
            var master: Int?
            #expect(await eventually { master = cluster.stableMaster(); return master != nil })
            let history = RoleHistory()
            cluster.services[try #require(master)]!.onRoleChange { history.record(MemberID(0), $0) }
            #expect(await eventually { !history.mastersByEpoch.isEmpty })
        }
        await cluster.shutdown()
    }

    @Test("the election state file round-trips and a corrupt file is an error, not a fresh start")
    func electionStateStore() async throws {
        let cluster = TestCluster()
        let store = ElectionStateStore(directory: cluster.root + "/state")
        try store.prepareDirectory()
        #expect(try store.load() == PersistentElectionState())
        let state = PersistentElectionState(currentEpoch: Epoch(12), votedFor: MemberID(3))
        try store.save(state)
        #expect(try store.load() == state)
        try store.save(PersistentElectionState(currentEpoch: Epoch(13), votedFor: nil))
        #expect(try store.load() == PersistentElectionState(currentEpoch: Epoch(13), votedFor: nil))
        #expect(throws: CoordinationError.self) {
            try ElectionStateStore.parse("trellis-election-state 1\nepoch x\nvoted-for -\n", path: "p")
        }
        #expect(throws: CoordinationError.self) { try ElectionStateStore.parse("", path: "p") }
        await cluster.shutdown()
    }

    @Test("bad ha.initial_hosts entries and impossible timings fail start-up with a clear error")
    func badInitialHosts() async throws {
        let cluster = TestCluster()
        cluster.specs = [TestMemberSpec(id: 1)]
        cluster.ports = [5999]
        var settings = cluster.settings(for: 0)
        settings.initialHosts = ["127.0.0.1:5999", "no-port-here"]
        let service = CoordinationService(settings: settings, group: cluster.group,
                                          logger: Logger(label: "t") { _ in CapturingLogHandler(log: cluster.log) },
                                          lastCommitted: { LogPosition(lastCommittedTx: 1) })
        await #expect(throws: CoordinationError.self) { try await service.start() }
        // Timings the election core would reject are reported, not a crash.
        var timings = cluster.settings(for: 0)
        timings.heartbeatTimeout = timings.heartbeatInterval
        let badTimings = CoordinationService(settings: timings, group: cluster.group,
                                             logger: Logger(label: "t") { _ in CapturingLogHandler(log: cluster.log) },
                                             lastCommitted: { LogPosition(lastCommittedTx: 1) })
        await #expect(throws: CoordinationError.self) { try await badTimings.start() }
        await cluster.shutdown()
    }
}

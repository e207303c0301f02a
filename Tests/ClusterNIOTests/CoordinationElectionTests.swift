import ClusterCore
import Foundation
import Testing
@testable import ClusterNIO

/// Elections over real loopback sockets (neo4j-ha.md §3–4; docs/clustering-design.md).
@Suite("Coordination: elections over TCP", .serialized)
struct CoordinationElectionTests {
    private static let three = [TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 3)]

    @Test("three members elect exactly one master and the others follow it")
    func threeMembersElectOneMaster() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            let elected = try await cluster.awaitStableMaster()
            #expect(cluster.atMostOneMasterPerEpoch)
            for index in 0..<3 where index != elected {
                #expect(!cluster.services[index]!.isAcceptingWrites())
            }
            let snapshot = cluster.services[elected]!.snapshot
            #expect(snapshot.members.map(\.id.rawValue) == [1, 2, 3])
            #expect(await eventually {
                let rows = cluster.services[elected]!.snapshot.members
                return rows.allSatisfy(\.alive) && rows.map(\.role) == ["master", "slave", "slave"]
            })
            #expect(await eventually { cluster.log.contains("Instance 1 was elected as master") })
            #expect(await eventually { cluster.log.contains("Instance 2 (this server) entered the cluster") })
            #expect(await eventually { cluster.log.contains("Database available for write transactions") })
            // The vote is on disk before it was sent.
            let state = try ElectionStateStore(directory: cluster.settings(for: 1).stateDirectory).load()
            #expect(state.currentEpoch >= Epoch(1))
        }
        await cluster.shutdown()
    }

    @Test("an arbiter votes and keeps a majority but is never master")
    func arbiterVotesButIsNeverMaster() async throws {
        let cluster = TestCluster()
        do {
            // The arbiter has the lowest id, which would win a tie if it could stand.
            try await cluster.start([
                TestMemberSpec(id: 1, kind: .arbiter), TestMemberSpec(id: 2), TestMemberSpec(id: 3),
            ])
            let first = try await cluster.awaitStableMaster()
            #expect(cluster.specs[first].kind != .arbiter)
            #expect(cluster.services[0]!.snapshot.members.first { $0.id == MemberID(1) }?.role == "arbiter")
            // With one data member down, the arbiter's vote is what makes the majority.
            await cluster.stopMember(first)
            var next: Int?
            #expect(await eventually { next = cluster.stableMaster(); return next != nil })
            #expect(try #require(next) != first)
            #expect(try #require(next) != 0)
            #expect(!cluster.history.everMaster(MemberID(1)))
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("a slave-only member is never master, even with the highest last committed tx")
    func slaveOnlyIsNeverMaster() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([
                TestMemberSpec(id: 1, kind: .data(slaveOnly: true), lastCommitted: 100),
                TestMemberSpec(id: 2, lastCommitted: 5), TestMemberSpec(id: 3, lastCommitted: 5),
            ])
            let first = try await cluster.awaitStableMaster()
            #expect(first != 0)
            // Only the slave-only member and one other left: a majority, but nobody electable but the other.
            await cluster.stopMember(first)
            var next: Int?
            #expect(await eventually { next = cluster.stableMaster(); return next != nil })
            #expect(try #require(next) != 0)
            #expect(!cluster.history.everMaster(MemberID(1)))
        }
        await cluster.shutdown()
    }

    @Test("the member whose log ends in the newest epoch is elected over a longer log from an older epoch")
    func newestEpochWins() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([
                TestMemberSpec(id: 1, lastCommitted: 40, lastEpoch: 1),
                TestMemberSpec(id: 2, lastCommitted: 25, lastEpoch: 2),
                TestMemberSpec(id: 3, lastCommitted: 24, lastEpoch: 2),
            ])
            var master: Int?
            #expect(await eventually { master = cluster.stableMaster(); return master != nil })
            #expect(master == 1)
        }
        await cluster.shutdown()
    }

    @Test("with ha.allow_init_cluster=false a member joins but never founds the cluster")
    func allowInitClusterFalse() async throws {
        let cluster = TestCluster()
        do {
            // Member 1 would win the tie on server id; it must not stand, and must not block 2 and 3 either.
            try await cluster.start([
                TestMemberSpec(id: 1, allowInitCluster: false), TestMemberSpec(id: 2), TestMemberSpec(id: 3),
            ])
            var master: Int?
            #expect(await eventually { master = cluster.stableMaster(); return master != nil })
            #expect(try #require(master) != 0)
            #expect(!cluster.history.everMaster(MemberID(1)))
        }
        await cluster.shutdown()
    }

    @Test("no member with ha.allow_init_cluster=false founds a cluster; they log that they keep trying")
    func nobodyMayInitialise() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start([
                TestMemberSpec(id: 1, allowInitCluster: false), TestMemberSpec(id: 2, allowInitCluster: false),
                TestMemberSpec(id: 3, allowInitCluster: false),
            ])
            // The join time-out (2 s) is 2.5 heartbeat time-outs: by the time it is logged, an election
            // would long have happened if anyone were allowed to stand.
            #expect(await eventually { cluster.log.contains("Could not join cluster of") })
            #expect(cluster.masterIndices.isEmpty)
            #expect(cluster.history.mastersByEpoch.isEmpty)
        }
        await cluster.shutdown()
    }
}

import ClusterCore
import Dispatch
import Foundation
import Synchronization
import Testing
@testable import ClusterNIO

/// Failover over real loopback sockets: crashes, isolation, restarts, slow disks and clean stops
/// (neo4j-ha.md §3–4, §9; docs/clustering-design.md).
@Suite("Coordination: failover", .serialized)
struct CoordinationFailoverTests {
    private static let three = [TestMemberSpec(id: 1), TestMemberSpec(id: 2), TestMemberSpec(id: 3)]

    @Test("stopping the master elects another member in a newer epoch")
    func masterStopFailsOver() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            let old = try await cluster.awaitStableMaster()
            let oldEpoch = try #require(cluster.epoch(of: old))
            await cluster.stopMember(old)
            let stoppedAt = ContinuousClock.now
            var next: Int?
            #expect(await eventually { next = cluster.stableMaster(); return next != nil })
            let elapsed = ContinuousClock.now - stoppedAt
            let newMaster = try #require(next)
            #expect(newMaster != old)
            #expect(try #require(cluster.epoch(of: newMaster)) > oldEpoch)
            #expect(cluster.atMostOneMasterPerEpoch)
            #expect(await eventually { cluster.log.contains("Instance \(cluster.specs[old].id) has failed") })
            // Bounded, not timed: a loaded machine may be slower than "a few time-outs", never unbounded.
            #expect(elapsed < TestTimings.pollLimit)
        }
        await cluster.shutdown()
    }

    @Test("an isolated master stops accepting writes and the majority elects a new one")
    func isolatedMasterStepsDown() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            let old = try await cluster.awaitStableMaster()
            let oldEpoch = try #require(cluster.epoch(of: old))
            cluster.services[old]!.setTrafficDropped(true)
            #expect(await eventually { !cluster.services[old]!.isAcceptingWrites() })
            var next: Int?
            #expect(await eventually { next = cluster.stableMaster(excluding: [old]); return next != nil })
            #expect(try #require(next) != old)
            let newMaster = try #require(next)
            #expect(try #require(cluster.epoch(of: newMaster)) > oldEpoch)
            #expect(!cluster.services[old]!.isAcceptingWrites())
            // The lease ends by the clock (isAcceptingWrites turns false by itself); the log line comes from the
            // event loop's next tick, so wait for it rather than expect it already written.
            #expect(await eventually { cluster.log.contains("Write transactions to database disabled") })
            // Heal: the old master rejoins as a slave of the new one.
            cluster.services[old]!.setTrafficDropped(false)
            #expect(await eventually { cluster.stableMaster() == next })
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("a restarted member rejoins as slave of the current master")
    func restartedMemberRejoinsAsSlave() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            let elected = try await cluster.awaitStableMaster()
            let epoch = try #require(cluster.epoch(of: elected))
            let slave = (0..<3).first { $0 != elected }!
            await cluster.stopMember(slave)
            #expect(await eventually { cluster.log.contains("Instance \(cluster.specs[slave].id) has failed") })
            try await cluster.startMember(slave)
            #expect(await eventually { cluster.stableMaster() == elected })
            #expect(try #require(cluster.epoch(of: slave)) >= epoch)
            #expect(await eventually { cluster.log.contains("Instance \(cluster.specs[slave].id) restarted") })
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("a stalled election-state fsync delays the vote but not the heartbeats")
    func stalledPersistDoesNotBlockHeartbeats() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            let old = try await cluster.awaitStableMaster()
            let survivors = (0..<3).filter { $0 != old }
            let (observer, stalled) = (survivors[0], survivors[1])
            // The stalled member's disk hangs on its next save (the vote it will be asked for) until released.
            let release = DispatchSemaphore(value: 0)
            let entered = Mutex(false)
            cluster.services[stalled]!.setPersistHook {
                entered.withLock { $0 = true }
                release.wait()
                release.signal()
            }
            await cluster.stopMember(old)
            #expect(await eventually { entered.withLock { $0 } })
            // Three heartbeat time-outs into the stall, the observer must still hear the stalled member: its plain
            // heartbeats do not queue behind the fsync. (Had they waited, it would have been silent throughout.)
            try await Task.sleep(for: TestTimings.heartbeatTimeout * 3)
            let stalledID = MemberID(cluster.specs[stalled].id)
            #expect(await eventually(within: .seconds(2)) {
                cluster.services[observer]!.snapshot.members.first { $0.id == stalledID }?.alive == true
            })
            // No master without the stalled vote (two of three needed, one is gone).
            #expect(cluster.masterIndices.isEmpty)
            release.signal()
            var next: Int?
            #expect(await eventually { next = cluster.stableMaster(); return next != nil })
            #expect(try #require(next) != old)
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("long mode: twenty rounds of stopping and restarting the master keep one master per epoch",
          .enabled(if: ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == "1"))
    func repeatedFailovers() async throws {
        let cluster = TestCluster()
        do {
            try await cluster.start(Self.three)
            var lastEpoch = Epoch.zero
            for _ in 0..<20 {
                let current = try await cluster.awaitStableMaster()
                let epoch = try #require(cluster.epoch(of: current))
                #expect(epoch > lastEpoch)
                lastEpoch = epoch
                await cluster.stopMember(current)
                #expect(await eventually { cluster.stableMaster() != nil })
                try await cluster.startMember(current)
            }
            #expect(await eventually { cluster.stableMaster() != nil })
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }

    @Test("a cleanly stopped master resigns: a successor is elected without waiting out the heartbeat time-out")
    func cleanStopResigns() async throws {
        let cluster = TestCluster()
        // A time-out long enough that waiting it out could not pass the bound below, even on an idle machine.
        cluster.heartbeatTimeout = .seconds(4)
        do {
            try await cluster.start(Self.three)
            let old = try await cluster.awaitStableMaster()
            let oldEpoch = try #require(cluster.epoch(of: old))
            let service = try #require(cluster.services[old])
            await cluster.stopMember(old, clean: true)
            #expect(!service.isAcceptingWrites())
            var next: Int?
            // Without the resignation the followers would keep their promise for 4 s.
            #expect(await eventually(within: .seconds(3)) { next = cluster.stableMaster(); return next != nil })
            let successor = try #require(next)
            #expect(successor != old)
            #expect(try #require(cluster.epoch(of: successor)) > oldEpoch)
            #expect(await eventually { cluster.log.contains("Instance \(cluster.specs[old].id) resigned as master") })
            #expect(cluster.atMostOneMasterPerEpoch)
        }
        await cluster.shutdown()
    }
}

import ClusterCore
@testable import ClusterSim
import Testing

/// The simulation's log model: the checksum chain is what lets one stamp stand for a whole history.
@Suite("SimulatedLog")
struct SimulatedLogTests {
    let m1 = MemberID(1), m2 = MemberID(2)

    private func log(_ writes: [(Epoch, MemberID, UInt64)]) -> SimulatedLog {
        var log = SimulatedLog()
        for (epoch, master, payload) in writes { _ = log.commit(epoch: epoch, master: master, payload: payload) }
        return log
    }

    @Test("equal histories give equal stamps; a different earlier transaction changes every later checksum")
    func chain() {
        let a = log([(Epoch(1), m1, 1), (Epoch(1), m1, 2), (Epoch(1), m1, 3)])
        let b = log([(Epoch(1), m1, 1), (Epoch(1), m1, 2), (Epoch(1), m1, 3)])
        let c = log([(Epoch(1), m1, 1), (Epoch(1), m1, 9), (Epoch(1), m1, 3)])
        #expect(a == b)
        #expect(a.stamp(at: 1) == c.stamp(at: 1))
        #expect(a.stamp(at: 2)?.checksum != c.stamp(at: 2)?.checksum)
        // Same tx id, epoch, master and payload at tx 3, yet different history before it.
        #expect(a.stamp(at: 3)?.checksum != c.stamp(at: 3)?.checksum)
        #expect(a.lastCommitted == LogPosition(lastCommittedTx: 3))
    }

    @Test("prefix and divergent tail follow the first differing transaction")
    func prefixAndTail() {
        let master = log([(Epoch(1), m1, 1), (Epoch(1), m1, 2), (Epoch(2), m2, 3), (Epoch(2), m2, 4)])
        var slave = SimulatedLog()
        slave.append(master.stamp(at: 1)!)
        slave.append(master.stamp(at: 2)!)
        #expect(slave.isPrefix(of: master))
        #expect(slave.divergentTail(against: master).isEmpty)
        _ = slave.commit(epoch: Epoch(1), master: m1, payload: 7)   // the old master's unreplicated write
        #expect(!slave.isPrefix(of: master))
        #expect(slave.divergentTail(against: master).map(\.tx.lastCommittedTx) == [3])
        #expect(BranchDetector.compare(slaveLast: slave.last!, masterLastCommitted: master.lastCommitted,
                                       masterAtSameTx: master.retainedStamp(at: 3)) == .branched(at: slave.last!.tx))
    }

    @Test("pruning hides old transactions from comparison; a store copy keeps only the copy's last one")
    func pruningAndStoreCopy() {
        var master = SimulatedLog()
        for payload in UInt64(1)...10 { _ = master.commit(epoch: Epoch(1), master: m1, payload: payload) }
        master.prune(retaining: 4)
        #expect(master.retainedStamp(at: 6) == nil)
        #expect(master.retainedStamp(at: 7) == master.stamp(at: 7))
        #expect(master.stamps(after: 8, limit: 5).map(\.tx.lastCommittedTx) == [9, 10])
        var copy = SimulatedLog()
        copy.copyStore(from: master)
        #expect(copy.last == master.last)
        #expect(copy.retainedStamp(at: 9) == nil)
        #expect(copy.retainedStamp(at: 10) == master.stamp(at: 10))
    }
}

import ClusterCore
import Testing

@Suite("ReplicationStateMachine and BranchDetector")
struct ReplicationTests {
    let m1 = MemberID(1), m2 = MemberID(2), m3 = MemberID(3), m4 = MemberID(4)
    func tx(_ id: UInt64) -> LogPosition { LogPosition(lastCommittedTx: id) }

    @Test("push strategies order slaves ascending, descending and rotating")
    func strategies() {
        let slaves = [m3, m2, m4]
        #expect(ReplicationStateMachine(strategy: .fixedAscending).order(of: slaves) == [m2, m3, m4])
        #expect(ReplicationStateMachine(strategy: .fixedDescending).order(of: slaves) == [m4, m3, m2])
        var rr = ReplicationStateMachine(pushFactor: 1, strategy: .roundRobin)
        #expect(rr.transactionCommitted(tx(2), author: nil, slaves: slaves)
            == [.push(tx: tx(2), to: m2), .acknowledgeCommit(tx(2))])
        #expect(rr.transactionCommitted(tx(3), author: nil, slaves: slaves)
            == [.push(tx: tx(3), to: m3), .acknowledgeCommit(tx(3))])
    }

    @Test("optimistic: the commit succeeds at once; a shortfall is reported, a failed push moves to the next slave")
    func optimistic() {
        var sm = ReplicationStateMachine(pushFactor: 2, strategy: .fixedAscending, acknowledgement: .optimistic)
        #expect(sm.transactionCommitted(tx(5), author: nil, slaves: [m2, m3, m4])
            == [.push(tx: tx(5), to: m2), .push(tx: tx(5), to: m3), .acknowledgeCommit(tx(5))])
        #expect(sm.pushFailed(tx(5), to: m3) == [.push(tx: tx(5), to: m4)])
        #expect(sm.pushAcknowledged(tx(5), by: m2) == [])
        #expect(sm.pushFailed(tx(5), to: m4) == [.reportShortfall(tx(5), replicated: 1, desired: 2)])
        #expect(sm.pendingCount == 0)
    }

    @Test("strict: the commit succeeds only after push-factor acks and fails when slaves run out")
    func strict() {
        var sm = ReplicationStateMachine(pushFactor: 2, strategy: .fixedAscending, acknowledgement: .strict)
        // Author m2 already has the transaction: factor drops to 1 and m2 is skipped.
        #expect(sm.transactionCommitted(tx(7), author: m2, slaves: [m2, m3, m4]) == [.push(tx: tx(7), to: m3)])
        #expect(sm.pushAcknowledged(tx(7), by: m4) == [])
        #expect(sm.pushAcknowledged(tx(7), by: m3) == [.acknowledgeCommit(tx(7))])
        #expect(sm.transactionCommitted(tx(8), author: nil, slaves: [m3]) == [.push(tx: tx(8), to: m3)])
        #expect(sm.pushAcknowledged(tx(8), by: m3) == [.failCommit(tx(8), replicated: 1, required: 2)])
        #expect(sm.transactionCommitted(tx(9), author: nil, slaves: [m3, m4])
            == [.push(tx: tx(9), to: m3), .push(tx: tx(9), to: m4)])
        #expect(sm.pushFailed(tx(9), to: m3) == [])
        #expect(sm.pushFailed(tx(9), to: m4) == [.failCommit(tx(9), replicated: 0, required: 2)])
    }

    @Test("push factor 0 acknowledges without pushing")
    func factorZero() {
        var sm = ReplicationStateMachine(pushFactor: 0, acknowledgement: .strict)
        #expect(sm.transactionCommitted(tx(3), author: nil, slaves: [m2]) == [.acknowledgeCommit(tx(3))])
        #expect(sm.pendingCount == 0)
    }

    @Test("branch detection compares epoch, master and checksum at the common tx id")
    func branches() {
        let slave = TransactionStamp(tx: tx(10), epoch: Epoch(2), master: m1, checksum: 0xABC)
        #expect(BranchDetector.compare(slaveLast: slave, masterLastCommitted: tx(12), masterAtSameTx: slave)
            == .sameHistory)
        var other = slave
        other.checksum = 0xABD
        #expect(BranchDetector.compare(slaveLast: slave, masterLastCommitted: tx(12), masterAtSameTx: other)
            == .branched(at: tx(10)))
        other = slave
        other.epoch = Epoch(3)
        #expect(BranchDetector.compare(slaveLast: slave, masterLastCommitted: tx(12), masterAtSameTx: other)
            == .branched(at: tx(10)))
        #expect(BranchDetector.compare(slaveLast: slave, masterLastCommitted: tx(9), masterAtSameTx: nil)
            == .branched(at: tx(10)))
        #expect(BranchDetector.compare(slaveLast: slave, masterLastCommitted: tx(12), masterAtSameTx: nil)
            == .outOfDate)
    }
}

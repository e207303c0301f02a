import ClusterCore
import Testing

@Suite("FailureDetector")
struct FailureDetectorTests {
    let configuration = ClusterConfiguration(members: (1...5).map { ClusterMemberConfiguration(id: MemberID($0)) })
    let m1 = MemberID(1), m2 = MemberID(2), m3 = MemberID(3), m4 = MemberID(4), m5 = MemberID(5)

    @Test("a silent peer is suspected after the heartbeat time-out, not before")
    func suspicionAfterTimeout() {
        var detector = FailureDetector(configuration: configuration, me: m1, now: .zero)
        for peer in [m2, m3, m4, m5] {
            #expect(detector.heartbeatReceived(from: peer, suspecting: [], at: .milliseconds(500)) == [])
        }
        #expect(detector.tick(now: .milliseconds(2_499)) == [])
        #expect(detector.heartbeatReceived(from: m2, suspecting: [], at: .milliseconds(2_400)) == [])
        #expect(detector.tick(now: .milliseconds(2_500)) == [.suspected(m3), .suspected(m4), .suspected(m5)])
        #expect(detector.suspected == [m3, m4, m5])
    }

    @Test("a member is failed only when a majority of the configured members suspects it, and rejoins when heard")
    func failedByMajorityAndRecovers() {
        var detector = FailureDetector(configuration: configuration, me: m1, now: .zero)
        for peer in [m2, m3, m4, m5] {
            _ = detector.heartbeatReceived(from: peer, suspecting: [], at: .milliseconds(100))
        }
        _ = detector.heartbeatReceived(from: m2, suspecting: [], at: .milliseconds(2_000))
        _ = detector.heartbeatReceived(from: m3, suspecting: [], at: .milliseconds(2_000))
        _ = detector.heartbeatReceived(from: m5, suspecting: [], at: .milliseconds(2_000))
        #expect(detector.tick(now: .milliseconds(2_200)) == [.suspected(m4)])
        // One suspicion (mine) of five members: suspected, not failed.
        #expect(detector.failed.isEmpty)
        #expect(detector.heartbeatReceived(from: m2, suspecting: [m4], at: .milliseconds(2_300)) == [])
        // Three of five suspect member 4 now.
        #expect(detector.heartbeatReceived(from: m3, suspecting: [m4], at: .milliseconds(2_300)) == [.failed(m4)])
        #expect(detector.suspicionCount(of: m4, now: .milliseconds(2_300)) == 3)
        // Member 4 comes back: my suspicion clears; two of five left, so it is no longer failed.
        #expect(detector.heartbeatReceived(from: m4, suspecting: [], at: .milliseconds(2_400))
            == [.alive(m4), .recovered(m4)])
    }

    @Test("gossip from peers that are themselves silent does not count")
    func staleGossipIgnored() {
        var detector = FailureDetector(configuration: configuration, me: m1, now: .zero)
        _ = detector.heartbeatReceived(from: m2, suspecting: [m5], at: .milliseconds(100))
        _ = detector.heartbeatReceived(from: m3, suspecting: [m5], at: .milliseconds(100))
        _ = detector.heartbeatReceived(from: m4, suspecting: [], at: .milliseconds(2_000))
        _ = detector.heartbeatReceived(from: m5, suspecting: [], at: .milliseconds(100))
        // At 2.5 s, 2 and 3 are silent: only my own suspicion of 5 counts.
        #expect(detector.tick(now: .milliseconds(2_500)) == [.suspected(m2), .suspected(m3), .suspected(m5)])
        #expect(detector.suspicionCount(of: m5, now: .milliseconds(2_500)) == 1)
        #expect(detector.reachableCount(now: .milliseconds(2_500)) == 2)
    }
}

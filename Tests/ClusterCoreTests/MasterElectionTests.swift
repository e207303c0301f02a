import ClusterCore
import Testing

/// Scripted tests of one member's election machine (neo4j-ha.md §3–4; rules listed on `MasterElection`).
@Suite("MasterElection")
struct MasterElectionTests {
    let m1 = MemberID(1), m2 = MemberID(2), m3 = MemberID(3)
    let tick = Duration.milliseconds(250)

    func configuration(_ kinds: [MemberKind] = [.data(slaveOnly: false), .data(slaveOnly: false),
                                                .data(slaveOnly: false)]) -> ClusterConfiguration {
        ClusterConfiguration(members: kinds.enumerated().map {
            ClusterMemberConfiguration(id: MemberID($0.offset + 1), kind: $0.element)
        })
    }

    func tx(_ id: UInt64) -> LogPosition { LogPosition(lastCommittedTx: id) }

    func heartbeat(epoch: UInt64 = 0, master: Bool = false, tx id: UInt64, suspects: [MemberID] = [],
                   at time: Duration, mayStand: Bool = true, lastEpoch: Epoch = .zero) -> Heartbeat {
        Heartbeat(epoch: Epoch(epoch), isMaster: master, lastCommitted: tx(id), suspects: suspects, sentAt: time,
                  mayStand: mayStand, lastEpoch: lastEpoch)
    }

    func sendToAll(_ message: ClusterMessage, except me: MemberID, of members: [MemberID]) -> [MasterElection.Action] {
        members.filter { $0 != me }.map { .send(to: $0, message) }
    }

    @Test("election order: higher tx wins, then the current master, then the lower server id")
    func credentialsOrder() {
        let low = ElectionCredentials(member: m1, lastCommitted: tx(5), isCurrentMaster: false)
        let high = ElectionCredentials(member: m3, lastCommitted: tx(6), isCurrentMaster: false)
        let master = ElectionCredentials(member: m2, lastCommitted: tx(5), isCurrentMaster: true)
        #expect(high.outranks(low) && !low.outranks(high))
        #expect(master.outranks(low) && !low.outranks(master))
        #expect(high.outranks(master))
        let other = ElectionCredentials(member: m2, lastCommitted: tx(5), isCurrentMaster: false)
        #expect(low.outranks(other) && !other.outranks(low))
        // A log ending in a newer epoch beats a longer one from an older epoch (diverged logs only), even a master.
        let newer = ElectionCredentials(member: m3, lastCommitted: tx(4), isCurrentMaster: false, lastEpoch: Epoch(2))
        let longerOlder = ElectionCredentials(member: m1, lastCommitted: tx(9), isCurrentMaster: true,
                                              lastEpoch: Epoch(1))
        #expect(newer.outranks(longerOlder) && !longerOlder.outranks(newer))
    }

    @Test("voters weigh the epoch of a peer's last transaction from its heartbeats")
    func votersWeighLastEpoch() {
        var voter = MasterElection(configuration: configuration(), me: m3, lastCommitted: tx(4),
                                   lastCommittedEpoch: Epoch(2), now: .zero, seed: 1)
        _ = voter.start(now: .zero)
        _ = voter.heartbeatReceived(heartbeat(epoch: 2, tx: 9, at: .seconds(2)), from: m1, now: .seconds(2))
        _ = voter.heartbeatReceived(heartbeat(epoch: 2, tx: 3, at: .seconds(2), lastEpoch: Epoch(2)), from: m2,
                                    now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        // Member 1 has the longest log, but it ends in epoch 0: the voter itself (epoch 2, tx 4) outranks it.
        let fromM1 = VoteRequest(
            epoch: Epoch(3), credentials: ElectionCredentials(member: m1, lastCommitted: tx(9), isCurrentMaster: false),
            sentAt: t
        )
        #expect(voter.voteRequested(fromM1, from: m1, now: t)
            == [.send(to: m1, .voteResponse(epoch: .zero, granted: false, echoedSentAt: t))])
    }

    @Test("the best member that hears a majority wins with one vote, then steps down within one time-out alone")
    func electAndStepDown() {
        let config = configuration()
        var sm = MasterElection(configuration: config, me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        let first = sm.start(now: .zero)
        #expect(first == sendToAll(.heartbeat(heartbeat(tx: 5, at: .zero)), except: m1, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        #expect(sm.heartbeatReceived(heartbeat(tx: 3, at: .seconds(2)), from: m2, now: .seconds(2)) == [])
        #expect(sm.heartbeatReceived(heartbeat(tx: 4, at: .seconds(2)), from: m3, now: .seconds(2)) == [])
        let t = Duration.milliseconds(2_100)
        let request = VoteRequest(
            epoch: Epoch(1), credentials: ElectionCredentials(member: m1, lastCommitted: tx(5), isCurrentMaster: false),
            sentAt: t
        )
        #expect(sm.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 5, at: t)), except: m1, of: [m1, m2, m3])
            + [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m1))]
            + sendToAll(.voteRequest(request), except: m1, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        #expect(sm.role == .candidate(epoch: Epoch(1)))
        let won = Duration.milliseconds(2_150)
        #expect(sm.voteReceived(epoch: Epoch(1), granted: true, echoedSentAt: t, from: m2, now: won)
            == [.becomeMaster(Epoch(1))]
            + sendToAll(.heartbeat(heartbeat(epoch: 1, master: true, tx: 5, at: won)), except: m1, of: [m1, m2, m3]))
        #expect(sm.isAcceptingWrites(now: won))
        // The lease rests on member 2's vote, sent at t: it ends one heartbeat time-out later.
        #expect(sm.isAcceptingWrites(now: t + .milliseconds(1_999)))
        #expect(!sm.isAcceptingWrites(now: t + .seconds(2)))
        let later = t + .seconds(2)
        #expect(sm.tick(now: later)
            == [.stopAcceptingWrites]
            + sendToAll(.heartbeat(heartbeat(epoch: 1, tx: 5, suspects: [m2, m3], at: later)), except: m1,
                        of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        #expect(sm.role == .pending)
    }

    @Test("acknowledgements renew the lease")
    func acknowledgementsRenewLease() {
        var sm = MasterElection(configuration: configuration(), me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        _ = sm.heartbeatReceived(heartbeat(tx: 3, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = sm.tick(now: .milliseconds(2_100))
        _ = sm.voteReceived(epoch: Epoch(1), granted: true, echoedSentAt: .milliseconds(2_100), from: m2,
                            now: .milliseconds(2_150))
        #expect(sm.heartbeatAckReceived(epoch: Epoch(1), echoedSentAt: .seconds(3), from: m3, now: .seconds(3)) == [])
        #expect(sm.isAcceptingWrites(now: .milliseconds(4_999)))
        #expect(!sm.isAcceptingWrites(now: .seconds(5)))
    }

    @Test("with no majority in sight nobody stands for election")
    func noQuorumNoCandidate() {
        var sm = MasterElection(configuration: configuration(), me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        let t = Duration.seconds(3)
        #expect(sm.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 5, suspects: [m2, m3], at: t)), except: m1, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        #expect(sm.role == .pending)
    }

    @Test("a member that a heard peer outranks does not stand")
    func outrankedDoesNotStand() {
        var sm = MasterElection(configuration: configuration(), me: m2, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        _ = sm.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m1, now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        // Equal tx: member 1 wins on the lower id.
        #expect(sm.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 5, suspects: [m3], at: t)), except: m2, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
    }

    @Test("slave-only members and arbiters never stand; arbiters vote")
    func slaveOnlyAndArbiters() {
        let config = configuration([.data(slaveOnly: true), .data(slaveOnly: false), .arbiter])
        var slaveOnly = MasterElection(configuration: config, me: m1, lastCommitted: tx(9), now: .zero, seed: 1)
        _ = slaveOnly.start(now: .zero)
        _ = slaveOnly.heartbeatReceived(heartbeat(tx: 2, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = slaveOnly.heartbeatReceived(heartbeat(tx: 0, at: .seconds(2)), from: m3, now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        #expect(slaveOnly.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 9, at: t, mayStand: false)), except: m1, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])

        var arbiter = MasterElection(configuration: config, me: m3, lastCommitted: tx(0), now: .zero, seed: 1)
        _ = arbiter.start(now: .zero)
        _ = arbiter.heartbeatReceived(heartbeat(tx: 9, at: .seconds(2)), from: m1, now: .seconds(2))
        _ = arbiter.heartbeatReceived(heartbeat(tx: 2, at: .seconds(2)), from: m2, now: .seconds(2))
        #expect(arbiter.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 0, at: t, mayStand: false)), except: m3, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        let fromSlaveOnly = VoteRequest(
            epoch: Epoch(1), credentials: ElectionCredentials(member: m1, lastCommitted: tx(9), isCurrentMaster: false),
            sentAt: t
        )
        #expect(arbiter.voteRequested(fromSlaveOnly, from: m1, now: t)
            == [.send(to: m1, .voteResponse(epoch: .zero, granted: false, echoedSentAt: t))])
        // Member 2 is the best electable member even though slave-only member 1 has more transactions.
        let fromData = VoteRequest(
            epoch: Epoch(1), credentials: ElectionCredentials(member: m2, lastCommitted: tx(2), isCurrentMaster: false),
            sentAt: t
        )
        #expect(arbiter.voteRequested(fromData, from: m2, now: t)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m2)),
                .send(to: m2, .voteResponse(epoch: Epoch(1), granted: true, echoedSentAt: t))])
    }

    @Test("a voter grants one candidate per epoch, rejects outranked candidates and keeps its promise")
    func votingRules() {
        var sm = MasterElection(configuration: configuration(), me: m2, lastCommitted: tx(3), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        _ = sm.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m1, now: .seconds(2))
        _ = sm.heartbeatReceived(heartbeat(tx: 1, at: .seconds(2)), from: m3, now: .seconds(2))
        let t = Duration.milliseconds(2_200)
        func request(_ epoch: UInt64, _ member: MemberID, _ id: UInt64) -> VoteRequest {
            VoteRequest(
                epoch: Epoch(epoch),
                credentials: ElectionCredentials(member: member, lastCommitted: tx(id), isCurrentMaster: false),
                sentAt: t
            )
        }
        // Member 1 (tx 5) outranks member 3 (tx 1).
        #expect(sm.voteRequested(request(1, m3, 1), from: m3, now: t)
            == [.send(to: m3, .voteResponse(epoch: .zero, granted: false, echoedSentAt: t))])
        #expect(sm.voteRequested(request(1, m1, 5), from: m1, now: t)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m1)),
                .send(to: m1, .voteResponse(epoch: Epoch(1), granted: true, echoedSentAt: t))])
        // A retransmission is answered the same way, without a second persist of a different choice.
        #expect(sm.voteRequested(request(1, m1, 5), from: m1, now: t)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m1)),
                .send(to: m1, .voteResponse(epoch: Epoch(1), granted: true, echoedSentAt: t))])
        // Even a better candidate cannot get a vote in epoch 1, nor in epoch 2 while the promise to 1 lasts.
        #expect(sm.voteRequested(request(1, m3, 9), from: m3, now: t)
            == [.send(to: m3, .voteResponse(epoch: Epoch(1), granted: false, echoedSentAt: t))])
        #expect(sm.voteRequested(request(2, m3, 9), from: m3, now: t + .milliseconds(1_999))
            == [.send(to: m3, .voteResponse(epoch: Epoch(1), granted: false, echoedSentAt: t))])
        #expect(sm.acknowledges(master: m1, epoch: Epoch(1), now: t + .milliseconds(1_999)))
        // After the promise lapses, a better candidate in a newer epoch gets the vote.
        #expect(sm.voteRequested(request(2, m3, 9), from: m3, now: t + .seconds(2))
            == [.persist(PersistentElectionState(currentEpoch: Epoch(2), votedFor: m3)),
                .send(to: m3, .voteResponse(epoch: Epoch(2), granted: true, echoedSentAt: t))])
    }

    @Test("a restarted member grants no vote during its quiet period")
    func quietAfterRestart() {
        let persisted = PersistentElectionState(currentEpoch: Epoch(3), votedFor: m1)
        var sm = MasterElection(configuration: configuration(), me: m2, persistent: persisted, lastCommitted: tx(3),
                                now: .seconds(10), seed: 1)
        let request = VoteRequest(
            epoch: Epoch(4), credentials: ElectionCredentials(member: m1, lastCommitted: tx(9), isCurrentMaster: false),
            sentAt: .seconds(11)
        )
        #expect(sm.voteRequested(request, from: m1, now: .seconds(11))
            == [.send(to: m1, .voteResponse(epoch: Epoch(3), granted: false, echoedSentAt: .seconds(11)))])
        #expect(sm.acknowledges(master: m3, epoch: Epoch(3), now: .seconds(11)))
    }

    @Test("a master heartbeat makes a member a slave; silence makes it pending; an older master is fenced")
    func followAndFence() {
        var sm = MasterElection(configuration: configuration(), me: m2, lastCommitted: tx(3), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        let sent = Duration.seconds(1)
        #expect(sm.heartbeatReceived(heartbeat(epoch: 4, master: true, tx: 7, at: sent), from: m1, now: sent)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(4), votedFor: m1)),
                .becomeSlave(master: m1, epoch: Epoch(4)),
                .send(to: m1, .heartbeatAck(epoch: Epoch(4), echoedSentAt: sent))])
        #expect(sm.role == .slave(master: m1, epoch: Epoch(4)))
        #expect(sm.heartbeatReceived(heartbeat(epoch: 3, master: true, tx: 9, at: sent), from: m3, now: sent)
            == [.send(to: m3, .staleEpoch(current: Epoch(4)))])
        let silent = Duration.seconds(3)
        #expect(sm.tick(now: silent)
            == [.becomePending]
            + sendToAll(.heartbeat(heartbeat(epoch: 4, tx: 3, suspects: [m1, m3], at: silent)), except: m2,
                        of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
    }

    @Test("a master told of a newer epoch steps down at once")
    func staleMasterStepsDown() {
        var sm = MasterElection(configuration: configuration(), me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        _ = sm.heartbeatReceived(heartbeat(tx: 3, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = sm.tick(now: .milliseconds(2_100))
        _ = sm.voteReceived(epoch: Epoch(1), granted: true, echoedSentAt: .milliseconds(2_100), from: m2,
                            now: .milliseconds(2_150))
        #expect(sm.messageReceived(.staleEpoch(current: Epoch(3)), from: m3, now: .milliseconds(2_200))
            == [.stopAcceptingWrites, .becomePending,
                .persist(PersistentElectionState(currentEpoch: Epoch(3), votedFor: nil))])
        #expect(!sm.isAcceptingWrites(now: .milliseconds(2_200)))
    }

    @Test("members learned by handshake join the voter set; quorum counts the initial hosts from the start")
    func membershipLearnedByHandshake() {
        // Only this member is known, but three initial hosts were configured: one vote is not a majority.
        let alone = ClusterConfiguration(members: [ClusterMemberConfiguration(id: m1)], expectedMemberCount: 3)
        #expect(alone.quorum == 2)
        var sm = MasterElection(configuration: alone, me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = sm.start(now: .zero)
        let t = Duration.milliseconds(2_100)
        #expect(sm.tick(now: t) == [.scheduleTimer(after: tick)])
        #expect(sm.role == .pending)
        // Member 2 says hello: it is a peer now, counts as heard, and the pair is a majority of three.
        let learned = alone.adding(ClusterMemberConfiguration(id: m2))
        #expect(learned.members.map(\.id) == [m1, m2])
        #expect(learned.quorum == 2)
        sm.membershipChanged(to: learned, now: t)
        #expect(sm.failureDetector.reachableCount(now: t) == 2)
        let request = VoteRequest(
            epoch: Epoch(1), credentials: ElectionCredentials(member: m1, lastCommitted: tx(5), isCurrentMaster: false),
            sentAt: t + tick
        )
        #expect(sm.tick(now: t + tick)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m1)),
                .send(to: m2, .voteRequest(request)), .scheduleTimer(after: tick)])
    }

    @Test("with allow_init_cluster=false a member stands only after it has seen a master, and does not block others")
    func allowInitClusterFalse() {
        let config = configuration()
        var sm = MasterElection(configuration: config, me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        sm.allowInitCluster = false
        _ = sm.start(now: .zero)
        _ = sm.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = sm.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m3, now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        // It would win on server id, but it never founds the cluster and says so in its heartbeats.
        #expect(sm.tick(now: t)
            == sendToAll(.heartbeat(heartbeat(tx: 5, at: t, mayStand: false)), except: m1, of: [m1, m2, m3])
            + [.scheduleTimer(after: tick)])
        // Nor does it reject member 2, whom it would otherwise outrank.
        let fromM2 = VoteRequest(
            epoch: Epoch(1), credentials: ElectionCredentials(member: m2, lastCommitted: tx(5), isCurrentMaster: false),
            sentAt: t
        )
        #expect(sm.voteRequested(fromM2, from: m2, now: t)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m2)),
                .send(to: m2, .voteResponse(epoch: Epoch(1), granted: true, echoedSentAt: t))])
        #expect(sm.mayStand)

        // A voter hearing a non-standing member with better credentials still grants the candidate.
        var voter = MasterElection(configuration: config, me: m3, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = voter.start(now: .zero)
        _ = voter.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2), mayStand: false), from: m1, now: .seconds(2))
        _ = voter.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m2, now: .seconds(2))
        #expect(voter.voteRequested(fromM2, from: m2, now: t)
            == [.persist(PersistentElectionState(currentEpoch: Epoch(1), votedFor: m2)),
                .send(to: m2, .voteResponse(epoch: Epoch(1), granted: true, echoedSentAt: t))])
    }

    @Test("a resigning master stops writes before telling peers; they release only that promise and may elect at once")
    func resignation() {
        let config = configuration()
        var master = MasterElection(configuration: config, me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = master.start(now: .zero)
        _ = master.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = master.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m3, now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        _ = master.tick(now: t)
        _ = master.voteReceived(epoch: Epoch(1), granted: true, echoedSentAt: t, from: m2, now: t)
        #expect(master.isAcceptingWrites(now: t))
        #expect(master.resign(now: t)
            == [.stopAcceptingWrites, .becomePending,
                .send(to: m2, .resign(epoch: Epoch(1))), .send(to: m3, .resign(epoch: Epoch(1)))])
        #expect(!master.isAcceptingWrites(now: t))
        #expect(!master.mayStand)

        // Member 2 follows member 1 in epoch 1, then hears the resignation.
        var follower = MasterElection(configuration: config, me: m2, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = follower.start(now: .zero)
        _ = follower.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m3, now: .seconds(2))
        _ = follower.heartbeatReceived(heartbeat(epoch: 1, master: true, tx: 5, at: t), from: m1, now: t)
        #expect(follower.role == .slave(master: m1, epoch: Epoch(1)))
        // A resignation for another epoch changes nothing.
        #expect(follower.messageReceived(.resign(epoch: Epoch(7)), from: m1, now: t) == [])
        #expect(follower.role == .slave(master: m1, epoch: Epoch(1)))
        let later = t + .milliseconds(10)
        #expect(follower.messageReceived(.resign(epoch: Epoch(1)), from: m1, now: later) == [.becomePending])
        // Member 1 is still heard (and was master with equal tx), but it resigned: member 2 stands right away
        // instead of waiting for its promise to lapse.
        let request = VoteRequest(
            epoch: Epoch(2), credentials: ElectionCredentials(member: m2, lastCommitted: tx(5), isCurrentMaster: false),
            sentAt: later
        )
        let actions = follower.tick(now: later)
        #expect(actions.contains(.persist(PersistentElectionState(currentEpoch: Epoch(2), votedFor: m2))))
        #expect(actions.contains(.send(to: m3, .voteRequest(request))))
    }

    @Test("a resigning master never votes for a candidate behind its own log, but backs one that is level")
    func resigningMasterGuardsItsLog() {
        var master = MasterElection(configuration: configuration(), me: m1, lastCommitted: tx(5), now: .zero, seed: 1)
        _ = master.start(now: .zero)
        _ = master.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m2, now: .seconds(2))
        _ = master.heartbeatReceived(heartbeat(tx: 5, at: .seconds(2)), from: m3, now: .seconds(2))
        let t = Duration.milliseconds(2_100)
        _ = master.tick(now: t)
        _ = master.voteReceived(epoch: Epoch(1), granted: true, echoedSentAt: t, from: m2, now: t)
        // One more commit, pushed to member 3 only; then the master stops cleanly.
        master.logPositionChanged(to: tx(6))
        _ = master.resign(now: t)
        #expect(!master.mayStand)
        let later = t + .milliseconds(10)
        // Member 2 missed the last commit (its heartbeat said tx 5): backing it would lose tx 6.
        let behind = VoteRequest(
            epoch: Epoch(2), credentials: ElectionCredentials(member: m2, lastCommitted: tx(5), isCurrentMaster: false),
            sentAt: later)
        #expect(master.voteRequested(behind, from: m2, now: later)
            == [.send(to: m2, .voteResponse(epoch: Epoch(1), granted: false, echoedSentAt: later))])
        let level = VoteRequest(
            epoch: Epoch(2), credentials: ElectionCredentials(member: m3, lastCommitted: tx(6), isCurrentMaster: false),
            sentAt: later)
        #expect(master.voteRequested(level, from: m3, now: later).contains(
            .send(to: m3, .voteResponse(epoch: Epoch(2), granted: true, echoedSentAt: later))))
    }
}

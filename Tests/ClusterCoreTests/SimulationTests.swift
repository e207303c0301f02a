import ClusterCore
import ClusterSim
import Foundation
import Testing

/// Runs the deterministic cluster simulation (STYLE.md, "Deterministic cluster simulation"; docs/clustering-design.md,
/// "Replication in the simulation"). A failure names its seed; `SIM_SEED=<n> swift test --filter Simulation` replays
/// exactly that run (`SIM_TRACE=1` prints its whole trace). `TRELLIS_TEST_LONG=1` runs more and longer seeds.
@Suite("Simulation")
struct SimulationTests {
    static let fixedSeeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 1_234, 65_535, 99_991, 0xDEAD_BEEF]

    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var isLong: Bool { environment["TRELLIS_TEST_LONG"] == "1" }

    /// The options every test starts from, so `SIM_SEED` replays any of them.
    static var batchOptions: SimulationOptions {
        var options = SimulationOptions()
        options.safetyPhase = isLong ? .seconds(60) : .seconds(10)
        return options
    }

    /// `batchOptions` with the rules the "checker catches" tests switch off, switched off by environment variables
    /// too, to replay those tests' seeds or to look for new ones: SIM_RANK_BY_TX=1, SIM_PUSH_ANY_SLAVE=1,
    /// SIM_FORWARD=<percent> (share of client writes sent through slaves), SIM_PUSH_FACTOR=<n>, SIM_MEMBERS=<n>,
    /// SIM_ACK=strict|optimistic. A failing test prints the line that replays it.
    static var replayOptions: SimulationOptions {
        var options = batchOptions
        if environment["SIM_RANK_BY_TX"] == "1" { options.electionRanking = .lastCommittedTx }
        if environment["SIM_PUSH_ANY_SLAVE"] == "1" { options.strictPushesToElectableSlavesOnly = false }
        if let percent = environment["SIM_FORWARD"].flatMap(Int.init) { options.forwardedWritePercent = percent }
        if let factor = environment["SIM_PUSH_FACTOR"].flatMap(Int.init) { options.pushFactor = factor }
        if let count = environment["SIM_MEMBERS"].flatMap(Int.init) { options.memberCounts = count...count }
        switch environment["SIM_ACK"] {
        case "strict": options.acknowledgement = .strict
        case "optimistic": options.acknowledgement = .optimistic
        default: break
        }
        return options
    }

    /// The environment that makes `replayOptions` equal `options` (each test's settings are expressible this way).
    static func replayHint(_ seed: UInt64, _ options: SimulationOptions) -> String {
        var variables = ["SIM_SEED=\(seed)"]
        if options.electionRanking == .lastCommittedTx { variables.append("SIM_RANK_BY_TX=1") }
        if !options.strictPushesToElectableSlavesOnly { variables.append("SIM_PUSH_ANY_SLAVE=1") }
        if options.forwardedWritePercent > 0 { variables.append("SIM_FORWARD=\(options.forwardedWritePercent)") }
        if let factor = options.pushFactor { variables.append("SIM_PUSH_FACTOR=\(factor)") }
        if options.memberCounts.count == 1 { variables.append("SIM_MEMBERS=\(options.memberCounts.lowerBound)") }
        switch options.acknowledgement {
        case .strict?: variables.append("SIM_ACK=strict")
        case .optimistic?: variables.append("SIM_ACK=optimistic")
        case nil: break
        }
        return variables.joined(separator: " ") + " swift test --filter SimulationTests/randomSeeds"
    }

    private func runSeed(_ seed: UInt64, options: SimulationOptions = batchOptions) -> SimulationReport? {
        var simulation = ClusterSimulation(seed: seed, options: options)
        do {
            return try simulation.run()
        } catch {
            Issue.record("\(error)\nreplay: \(Self.replayHint(seed, options))")
            if Self.environment["SIM_TRACE"] == "1" { print(error.trace.joined(separator: "\n")) }
            return nil
        }
    }

    private func failure(ofSeed seed: UInt64, options: SimulationOptions) -> SimulationFailure? {
        var simulation = ClusterSimulation(seed: seed, options: options)
        do {
            _ = try simulation.run()
            return nil
        } catch {
            return error
        }
    }

    @Test("fixed seeds: one master per epoch, writes only under a majority lease, logs agree after healing",
          arguments: fixedSeeds)
    func fixedSeed(seed: UInt64) {
        let report = runSeed(seed)
        #expect(report.map { $0.elections > 0 } == true, "\(String(describing: report))")
    }

    @Test("a batch of random seeds keeps every invariant")
    func randomSeeds() {
        if let replay = Self.environment["SIM_SEED"].flatMap(UInt64.init) {
            _ = runSeed(replay, options: Self.replayOptions)
            return
        }
        let count = Int(Self.environment["SIM_COUNT"] ?? "") ?? (Self.isLong ? 20_000 : 800)
        var generator = SystemRandomNumberGenerator()
        let base = Self.environment["SIM_BASE"].flatMap(UInt64.init) ?? generator.next() as UInt64
        var totals = Totals()
        for index in 0..<UInt64(count) {
            guard let report = runSeed(base &+ index, options: Self.replayOptions) else { return }
            totals.add(report)
        }
        // The numbers docs/clustering-design.md quotes ("what optimistic push can lose").
        print("simulation: \(count) seeds from \(base): \(totals)")
        #expect(totals.guaranteedLost == 0)
    }

    @Test("strict push with enough slaves: failovers happen and no acknowledged write is lost")
    func strictSurvives() {
        var options = Self.batchOptions
        options.acknowledgement = .strict
        options.memberCounts = 3...3
        options.pushFactor = 1
        var totals = Totals()
        for seed in UInt64(1)...40 {
            guard let report = runSeed(seed, options: options) else { return }
            #expect(report.guaranteesAcknowledgedWrites)
            totals.add(report)
        }
        #expect(totals.acknowledged > 0)
        #expect(totals.elections > 40, "the seeds should fail over, not keep one master")
        #expect(totals.guaranteedLost == 0)
    }

    @Test("optimistic push: lost acknowledged writes are counted, and each is kept in a branched store")
    func optimisticLosses() {
        var options = Self.batchOptions
        options.acknowledgement = .optimistic
        options.pushFactor = 0
        var totals = Totals()
        for seed in UInt64(1)...40 {
            guard let report = runSeed(seed, options: options) else { return }
            #expect(!report.guaranteesAcknowledgedWrites)
            totals.add(report)
        }
        // Push factor 0 leaves every write on the master alone: failovers must lose some.
        #expect(totals.lost > 0)
        #expect(totals.branches > 0)
    }

    @Test("writes forwarded by slaves: acknowledged once the slave holds them, never lost under strict push")
    func forwardedWrites() {
        var options = Self.batchOptions
        options.forwardedWritePercent = 50
        var totals = Totals()
        var forwarded = 0
        for seed in UInt64(1)...150 {
            guard let report = runSeed(seed, options: options) else { return }
            totals.add(report)
            forwarded += report.forwardedWrites
        }
        #expect(forwarded > 1_000)
        #expect(totals.acknowledged > 1_000)
        #expect(totals.guaranteedLost == 0)
    }

    /// The first seed from 1 whose run breaks an invariant under `options`, with its failure (bounded search).
    private func firstFailure(options: SimulationOptions, seeds: ClosedRange<UInt64>) -> SimulationFailure? {
        for seed in seeds {
            if let caught = failure(ofSeed: seed, options: options) { return caught }
        }
        return nil
    }

    @Test("the checker catches acknowledged writes lost when candidates are ranked on tx id alone")
    func rankingByTxLosesWrites() {
        // E.g. seed 1198 of the batch options: master 1 of epoch 1, cut off, keeps committing strict writes that
        // fail; member 3 becomes master of epoch 2 and acknowledges tx 25; member 1 returns with the longer log
        // (tx 39 of epoch 1) and wins on tx id, so tx 25 of epoch 2 is gone. Three electable members, so only the
        // ranking is at play.
        var options = Self.batchOptions
        options.memberCounts = 3...3
        options.acknowledgement = .strict
        options.pushFactor = 1
        options.electionRanking = .lastCommittedTx
        let caught = firstFailure(options: options, seeds: 1...300)
        #expect(caught?.message.contains("without acknowledged") == true, "\(String(describing: caught))")
        if let caught {
            if Self.environment["SIM_TRACE"] == "1" { print(caught.trace.joined(separator: "\n")) }
            options.electionRanking = .lastEpochThenTx
            #expect(runSeed(caught.seed, options: options) != nil)
        }
    }

    @Test("the checker catches acknowledged writes lost when slave-only members hold them")
    func slaveOnlyHoldersLoseWrites() {
        // E.g. seed 1137 of the batch options: push factor 2 (descending) lands on the two slave-only members; they
        // vote for member 1, which lacks the acknowledged tx, because a voter that cannot stand does not weigh its
        // own log.
        var options = Self.batchOptions
        options.acknowledgement = .strict
        options.strictPushesToElectableSlavesOnly = false
        let caught = firstFailure(options: options, seeds: 1...300)
        #expect(caught?.message.contains("without acknowledged") == true, "\(String(describing: caught))")
        if let caught {
            if Self.environment["SIM_TRACE"] == "1" { print(caught.trace.joined(separator: "\n")) }
            options.strictPushesToElectableSlavesOnly = true
            #expect(runSeed(caught.seed, options: options) != nil)
        }
    }

    @Test("the same seed replays the same run")
    func deterministic() throws {
        var first = ClusterSimulation(seed: 77)
        var second = ClusterSimulation(seed: 77)
        let a = try first.run()
        let b = try second.run()
        #expect(a.events == b.events)
        #expect(a.commits == b.commits)
        #expect(a.acknowledgedWrites == b.acknowledgedWrites)
        #expect(a.storeCopies == b.storeCopies)
        #expect(a.timeToConverge == b.timeToConverge)
    }
}

/// Sums over many runs.
private struct Totals: CustomStringConvertible {
    var runs = 0, elections = 0, acknowledged = 0, failed = 0, branches = 0, storeCopies = 0
    var optimisticRuns = 0, optimisticAcknowledged = 0, optimisticLost = 0, optimisticRunsLosing = 0
    var optimisticLostAlone = 0
    var lost = 0, runsLosing = 0, guaranteedLost = 0
    /// Optimistic runs by push factor: runs, masters elected, writes acknowledged, acknowledged writes lost.
    var optimisticByFactor: [Int: (runs: Int, elections: Int, acknowledged: Int, lost: Int)] = [:]

    mutating func add(_ report: SimulationReport) {
        runs += 1
        elections += report.elections
        acknowledged += report.acknowledgedWrites
        failed += report.failedWrites
        branches += report.branchesDetected
        storeCopies += report.storeCopies
        lost += report.lostAcknowledgedWrites
        if report.lostAcknowledgedWrites > 0 { runsLosing += 1 }
        if report.guaranteesAcknowledgedWrites { guaranteedLost += report.lostAcknowledgedWrites }
        if report.acknowledgement == .optimistic {
            optimisticRuns += 1
            optimisticAcknowledged += report.acknowledgedWrites
            optimisticLost += report.lostAcknowledgedWrites
            optimisticLostAlone += report.lostNeverReplicated
            if report.lostAcknowledgedWrites > 0 { optimisticRunsLosing += 1 }
            var row = optimisticByFactor[report.pushFactor] ?? (0, 0, 0, 0)
            row.runs += 1
            row.elections += report.elections
            row.acknowledged += report.acknowledgedWrites
            row.lost += report.lostAcknowledgedWrites
            optimisticByFactor[report.pushFactor] = row
        }
    }

    var description: String {
        "\(elections) elections, \(acknowledged) writes acknowledged, \(failed) failed, \(branches) branches, "
            + "\(storeCopies) store copies; \(lost) acknowledged writes lost in \(runsLosing) runs "
            + "(optimistic: \(optimisticLost) of \(optimisticAcknowledged) acknowledged lost, "
            + "in \(optimisticRunsLosing) of \(optimisticRuns) runs, \(optimisticLostAlone) of them never replicated); "
            + "\(guaranteedLost) lost where strict push promised none; optimistic by push factor: "
            + optimisticByFactor.keys.sorted().map { factor in
                let row = optimisticByFactor[factor]!
                return "\(factor): \(row.runs) runs, \(row.elections) masters, \(row.lost)/\(row.acknowledged) lost"
            }.joined(separator: "; ")
    }
}

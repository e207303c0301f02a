import ClusterCore
import ClusterSim
import Foundation
import Testing

/// Runs the deterministic cluster simulation (STYLE.md, "Deterministic cluster simulation"). A failure names its
/// seed; `SIM_SEED=<n> swift test --filter Simulation` replays exactly that run. `TRELLIS_TEST_LONG=1` runs more.
@Suite("Simulation")
struct SimulationTests {
    static let fixedSeeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 1_234, 65_535, 99_991, 0xDEAD_BEEF]

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    private func runSeed(_ seed: UInt64, options: SimulationOptions = SimulationOptions()) -> SimulationReport? {
        var simulation = ClusterSimulation(seed: seed, options: options)
        do {
            return try simulation.run()
        } catch {
            Issue.record("\(error)")
            return nil
        }
    }

    @Test("fixed seeds: one master per epoch, writes only under a majority lease, one master after healing",
          arguments: fixedSeeds)
    func fixedSeed(seed: UInt64) {
        let report = runSeed(seed)
        #expect(report.map { $0.elections > 0 } == true)
    }

    @Test("a batch of random seeds keeps every invariant")
    func randomSeeds() {
        if let replay = Self.environment["SIM_SEED"].flatMap(UInt64.init) {
            _ = runSeed(replay)
            return
        }
        let long = Self.environment["TRELLIS_TEST_LONG"] == "1"
        let count = long ? 20_000 : 1_000
        var generator = SystemRandomNumberGenerator()
        let base = generator.next() as UInt64
        var options = SimulationOptions()
        options.safetyPhase = long ? .seconds(60) : .seconds(15)
        for index in 0..<UInt64(count) {
            guard runSeed(base &+ index, options: options) != nil else { return }
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
        #expect(a.timeToConverge == b.timeToConverge)
    }
}

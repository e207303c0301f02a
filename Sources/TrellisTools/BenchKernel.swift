import ArgumentParser
import GraphKernel
import GraphValues

/// Placeholder replaced below.
struct BenchKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-kernel", abstract: "Kernel benchmark.")
    func run() throws {}
}

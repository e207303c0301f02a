import ArgumentParser

/// `trellis-tools`: developer tools that run the kernel in-process — the crash-test child and benchmarks.
///
/// To add a subcommand, put its `ParsableCommand` type in its own file in this target and append it to
/// `toolSubcommands` below (one line; keep the list sorted by name).
let toolSubcommands: [ParsableCommand.Type] = [
    BenchKernelCommand.self,
    BoltNullServerCommand.self,
    CypherBench.self,
    CrashChildCommand.self,
    DataPortBenchCommand.self,
    DataSlaveChildCommand.self,
]

struct TrellisTools: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trellis-tools",
        abstract: "Trellis developer tools: crash-test child process and in-process benchmarks.",
        subcommands: toolSubcommands)
}

TrellisTools.main()

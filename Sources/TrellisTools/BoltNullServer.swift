import ArgumentParser
import BoltServer
import Cypher

#if canImport(Glibc)
import Glibc
#endif

/// `trellis-tools bolt-null-server`: a Bolt server that does no work, for measuring what a client costs on its own
/// (docs/performance.md "What the client costs"). It stores nothing and answers every query with a constant of the
/// shape Trellis sends; see `NullBoltServer`.
struct BoltNullServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bolt-null-server",
        abstract: "Serve Bolt with constant answers and no work, to measure a client's own CPU per operation.",
        discussion: """
            A measuring tool, not a database: it accepts any credentials, stores nothing, and answers every RUN with \
            one record of integers (for a statement with RETURN) and a Trellis-shaped summary. Prints \
            `port <n>` on stdout once listening, then serves until killed.
            """)

    @Option(help: "host:port to listen on (port 0 picks a free port).")
    var listen: String = "127.0.0.1:0"

    @Option(help: "Event-loop threads.")
    var threads: Int = 1

    @Option(help: "Hold every batch of replies back this many microseconds (0: answer at once).")
    var replyDelayMicroseconds: Int = 0

    func run() throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65_535).contains(port)
        else {
            throw ValidationError("--listen must be host:port, got '\(listen)'")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard replyDelayMicroseconds >= 0 else { throw ValidationError("--reply-delay-microseconds must be >= 0") }
        let host = String(listen[..<colon])
        let server = try NullBoltServer(
            host: host, port: port, serverAgent: "Neo4j/\(TrellisVersion.neo4jCompatible)", threads: threads,
            replyDelay: .microseconds(Int64(replyDelayMicroseconds)))
        // Unbuffered, straight to the pipe: a script waits for this line.
        let line = Array("port \(server.port)\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        try server.waitUntilClosed()
    }
}

import Cypher
import GraphKernel
import Logging

@testable import TrellisServer

/// The service over a real kernel and Cypher engine with the server's procedures, as Bolt and HTTP use it, in a
/// temporary home (auth on, a small page cache). The database is closed when the fixture goes away.
final class CypherServiceFixture {
    let dir: TemporaryDirectory
    let database: GraphDatabase
    let service: TrellisDatabaseService

    /// `logFileSystem`: where the transaction log lives (default: the real disk, as the stores).
    init(overrides: [String: String] = [:], logFileSystem: LogFileSystem? = nil) throws {
        dir = try TemporaryDirectory()
        let config = try Config(home: dir.path, overrides: overrides)
        let auth = try AuthManager(
            enabled: true, directory: config.authDirectory, maxFailedAttempts: 3, lockTime: .seconds(5),
            iterations: 10, logger: Logger(label: "test"))
        var kernel = KernelConfiguration(pageCacheSizeBytes: 8 << 20)
        if let logFileSystem { kernel.logFileSystem = logFileSystem }
        database = try GraphDatabase(directory: dir.path + "/graph.db", configuration: kernel)
        let cypher = CypherEngine(planCacheSize: 100)
        let engine = CypherGraphEngine(database: database, cypher: cypher, importDirectory: nil)
        service = TrellisDatabaseService(
            engine: engine, auth: auth, config: config, logger: Logger(label: "test"), queryLog: nil)
        ServerProcedures.register(in: cypher.procedures, auth: auth, config: config, service: service)
    }

    deinit { try? database.close() }
}

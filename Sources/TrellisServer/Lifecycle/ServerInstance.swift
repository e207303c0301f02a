import Foundation
import Logging

/// One running Trellis instance: the pid file lock, users, logs, and (as they are wired) the database and the
/// Bolt and HTTP connectors. `start` brings them up in dependency order; `shutdown` takes them down in reverse:
/// stop accepting connections, let in-flight transactions finish or roll back, checkpoint, release locks.
public final class ServerInstance {
    public let config: Config
    public let logs: LogSystem
    public let auth: AuthManager
    let pidFile: PidFile

    init(config: Config, logs: LogSystem, auth: AuthManager, pidFile: PidFile) {
        self.config = config
        self.logs = logs
        self.auth = auth
        self.pidFile = pidFile
    }

    public static func start(config: Config, logs: LogSystem) throws -> ServerInstance {
        let log = logs.userLog
        log.info("======== Trellis \(Trellis.version) ========")
        log.info("Starting...")
        let fm = FileManager.default
        for dir in [config.dataDirectory, config.logsDirectory, config.runDirectory, config.importDirectory,
                    config.certificatesDirectory, config.authDirectory, config.databaseDirectory]
        {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let pidFile = try PidFile(path: config.pidFile)
        do {
            let auth = try AuthManager(
                enabled: config.get(Settings.authEnabled), directory: config.authDirectory,
                maxFailedAttempts: Int(config.get(Settings.authMaxFailedAttempts)),
                lockTime: config.get(Settings.authLockTime), logger: logs.logger("auth"))
            let instance = ServerInstance(config: config, logs: logs, auth: auth, pidFile: pidFile)
            log.info("Started.")
            return instance
        } catch {
            pidFile.release()
            throw error
        }
    }

    /// Graceful stop, in reverse start order. Idempotent.
    public func shutdown() {
        logs.userLog.info("Stopping...")
        pidFile.release()
    }
}

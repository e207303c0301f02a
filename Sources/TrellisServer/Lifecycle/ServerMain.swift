import Dispatch
import GraphKernel
import GraphValues
import Foundation
import Logging

/// What the `trellis` commands do, kept here so the executable stays thin and the behaviour is testable.
public enum ServerMain {
    /// `trellis console`: runs until SIGTERM/SIGINT, then shuts down gracefully. Returns the exit code.
    /// `readyDescriptor` (from `trellis start`, see `Launcher.start`) receives `Launcher.readyMessage` once the
    /// server has started and is closed then; a failed start closes it by exiting.
    public static func runForeground(config: Config, echoUserLog: Bool, readyDescriptor: Int32? = nil) -> Int32 {
        let logs: LogSystem
        do {
            logs = try LogSystem(config: config, echoUserLog: echoUserLog)
        } catch {
            FileHandle.standardError.write(Data(
                "trellis: failed to start: cannot open the logs in \(config.logsDirectory) (dbms.directories.logs): "
                    .appending("\(StartupErrors.reason(error))\n").utf8))
            return 1
        }
        // Signals are caught before start-up begins, so a SIGTERM that arrives while the store opens or the
        // ports bind still ends in a graceful stop (after start-up completes) rather than an abrupt exit.
        let stopRequested = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                logs.userLog.info("Received \(sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP"), stopping...")
                stopRequested.signal()
            }
            source.resume()
            sources.append(source)
        }
        let shutdown: () -> Void
        do {
            if config.get(Settings.mode) == "ARBITER" {
                let arbiter = try ArbiterInstance.start(config: config, logs: logs)
                shutdown = { arbiter.shutdown() }
            } else {
                let instance = try ServerInstance.start(
                    config: config, logs: logs, openDatabase: KernelBootstrap.opener(logger: logs.logger("kernel")))
                shutdown = { instance.shutdown() }
            }
        } catch {
            logs.userLog.error("Failed to start: \(error)")
            if !echoUserLog { FileHandle.standardError.write(Data("trellis: failed to start: \(error)\n".utf8)) }
            return 1
        }
        if let fd = readyDescriptor {
            // `trellis start` may be gone (interrupted); a write to its closed pipe must not end the server.
            let previous = signal(SIGPIPE, SIG_IGN)
            _ = Launcher.readyMessage.withCString { write(fd, $0, strlen($0)) }
            signal(SIGPIPE, previous)
            close(fd)
        }
        stopRequested.wait()
        shutdown()
        logs.userLog.info("Stopped.")
        _ = sources
        return 0
    }

    /// `trellis start`.
    public static func start(config: Config, executable: String, timeout: Duration, output: (String) -> Void) -> Int32 {
        var ports: [(String, Int)] = []
        // An arbiter serves neither Bolt nor HTTP: its running pid file is the sign it started.
        let arbiter = config.get(Settings.mode) == "ARBITER"
        if config.get(Settings.boltEnabled) && !arbiter { ports.append(config.listenAddress(Settings.boltListenAddress)) }
        if config.get(Settings.httpEnabled) && !arbiter { ports.append(config.listenAddress(Settings.httpListenAddress)) }
        output("Directories in use:")
        output("  home:         \(config.home)")
        output("  config:       \(config.confFile ?? "(embedded defaults)")")
        output("  logs:         \(config.logsDirectory)")
        output("  data:         \(config.dataDirectory)")
        output("  run:          \(config.runDirectory)")
        output("Starting Trellis.")
        switch Launcher.start(
            executable: executable, config: config, environment: ProcessInfo.processInfo.environment, ports: ports,
            timeout: timeout)
        {
        case .alreadyRunning(let pid):
            output("Trellis is already running (pid \(pid)).")
            return 0
        case .started(let pid):
            if arbiter {
                output("Started in ARBITER mode (pid \(pid)). This instance is now joining the cluster.")
            } else {
                output("Started trellis (pid \(pid)).\(availability(config))")
            }
            output("See \(config.logsDirectory)/trellis.log for current status.")
            return 0
        case .failed(let why):
            output("Unable to start: \(why)")
            return 1
        }
    }

    /// Where clients reach a started server, for `trellis start`: the HTTP address (Neo4j's wording), else the
    /// Bolt one; nothing when both connectors are off.
    static func availability(_ config: Config) -> String {
        if config.get(Settings.httpEnabled) {
            let http = config.listenAddress(Settings.httpListenAddress)
            return " It is available at http://\(http.host):\(http.port)/"
        }
        if config.get(Settings.boltEnabled) {
            let bolt = config.listenAddress(Settings.boltListenAddress)
            return " It is available at bolt://\(bolt.host):\(bolt.port)"
        }
        return " Bolt and HTTP are disabled (dbms.connector.bolt.enabled, dbms.connector.http.enabled)."
    }

    /// `trellis stop`.
    public static func stop(config: Config, timeout: Duration, output: (String) -> Void) -> Int32 {
        guard PidFile.runningPid(config.pidFile) != nil else {
            output("Trellis is not running\n")
            return 0
        }
        output("Stopping Trellis.")
        if Launcher.stop(config: config, timeout: timeout, progress: output) {
            output(" stopped\n")
            return 0
        }
        output(" failed to stop\n")
        return 1
    }

    /// The outcome of `trellis admin check-consistency`.
    public enum ConsistencyOutcome: Equatable {
        case consistent(String)
        case inconsistent(String)
        /// The check could not run (server running, no store, unreadable store); the message says why.
        case failed(String)
    }

    /// `trellis admin check-consistency`: checks the store of a stopped instance with the kernel's
    /// `ConsistencyChecker` (node and relationship chains, groups, properties, tokens, labels, label scan, indexes,
    /// counts). Opening the store replays the transaction log first, as a start would.
    public static func checkConsistency(config: Config, database: String?) -> ConsistencyOutcome {
        var config = config
        if let database {
            do {
                config = try config.overriding([Settings.activeDatabase.name: database])
            } catch {
                return .failed("\(error)")
            }
        }
        if let pid = PidFile.runningPid(config.pidFile) {
            return .failed("the server is running (pid \(pid)); stop it first: the check needs the store to itself")
        }
        let directory = config.databaseDirectory
        guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("neostore")) else {
            // Opening an empty folder would create a new store; there is nothing to check.
            return .failed("no store in \(directory) (dbms.directories.data, dbms.active_database)")
        }
        do {
            var kernel = KernelConfiguration(config: config)
            if !config.isExplicitlySet(Settings.pageCacheSize.name) { kernel.pageCacheSizeBytes = 64 << 20 }
            let report = try ConsistencyChecker(directory: directory, configuration: kernel).check()
            return report.isConsistent ? .consistent("\(directory): \(report)") : .inconsistent("\(directory): \(report)")
        } catch {
            return .failed("cannot check \(directory): \(error)")
        }
    }

    /// `trellis admin set-initial-password`.
    public static func setInitialPassword(_ password: String, config: Config) throws {
        do {
            try AuthManager.setInitialPassword(password, directory: config.authDirectory)
        } catch let error as DatabaseError {
            // A command line is not a Bolt client: the message, without the status code.
            throw LifecycleError(error.message)
        } catch {
            throw LifecycleError(
                "cannot write the users file in \(config.authDirectory): \(StartupErrors.reason(error))")
        }
    }
}

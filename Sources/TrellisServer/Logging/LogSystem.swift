import Foundation
import Logging

/// The log files of one instance (neo4j-ops.md §4): `trellis.log` (user log: start/stop, addresses, fatal
/// errors; echoed to stdout in console mode), `debug.log` (diagnostics at `dbms.logs.debug.level`; also
/// receives everything the user log gets), `query.log` when `dbms.logs.query.enabled`, `http.log` when
/// `dbms.logs.http.enabled`. All rotate by size and keep the configured number of files.
public final class LogSystem: Sendable {
    public let userLog: Logger
    public let debugLog: Logger
    public let queryLog: QueryLog?
    public let httpLog: RotatingLogFile?
    public let userFile: RotatingLogFile
    public let debugFile: RotatingLogFile

    public init(config: Config, echoUserLog: Bool) throws {
        let dir = config.logsDirectory
        let utc = config.get(Settings.logsTimezone) == "UTC"
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        userFile = try RotatingLogFile(
            path: path("trellis.log"), rotationSizeBytes: config.get(Settings.userLogRotationSize),
            keepNumber: Int(config.get(Settings.userLogKeepNumber)))
        debugFile = try RotatingLogFile(
            path: path("debug.log"), rotationSizeBytes: config.get(Settings.debugLogRotationSize),
            keepNumber: Int(config.get(Settings.debugLogKeepNumber)))
        let debugLevel = FileLogHandler.level(named: config.get(Settings.debugLogLevel))
        let userFile = self.userFile
        let debugFile = self.debugFile
        userLog = Logger(label: "trellis") { label in
            FileLogHandler(label: label, files: [userFile, debugFile], level: .info, echo: echoUserLog, utc: utc)
        }
        debugLog = Logger(label: "trellis.debug") { label in
            FileLogHandler(label: label, files: [debugFile], level: debugLevel, utc: utc)
        }
        if config.get(Settings.queryLogEnabled) {
            let custom = config.get(Settings.queryLogPath)
            let qpath = custom.isEmpty ? path("query.log") : Config.absolutePath(custom, relativeTo: config.home)
            queryLog = QueryLog(
                file: try RotatingLogFile(
                    path: qpath, rotationSizeBytes: config.get(Settings.queryLogRotationSize),
                    keepNumber: Int(config.get(Settings.queryLogKeepNumber))),
                threshold: config.get(Settings.queryLogThreshold), logParameters: config.get(Settings.queryLogParameters),
                utc: utc)
        } else {
            queryLog = nil
        }
        if config.get(Settings.httpLogEnabled) {
            httpLog = try RotatingLogFile(
                path: path("http.log"), rotationSizeBytes: config.get(Settings.httpLogRotationSize),
                keepNumber: Int(config.get(Settings.httpLogKeepNumber)))
        } else {
            httpLog = nil
        }
    }

    /// A logger for a component, writing to debug.log with `component` in its label.
    public func logger(_ component: String) -> Logger {
        var l = debugLog
        l[metadataKey: "component"] = "\(component)"
        return l
    }
}

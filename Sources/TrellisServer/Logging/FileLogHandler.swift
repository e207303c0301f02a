import Foundation
import Logging

/// A swift-log handler writing Neo4j-style lines (`<timestamp> <LEVEL> [<label>] message {metadata}`) to one
/// or more rotating files, and optionally echoing to standard output (console mode's user log).
public struct FileLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let files: [RotatingLogFile]
    let echoToStandardOutput: Bool
    let utc: Bool

    public init(label: String, files: [RotatingLogFile], level: Logger.Level, echo: Bool = false, utc: Bool = true) {
        self.label = label
        self.files = files
        self.logLevel = level
        self.echoToStandardOutput = echo
        self.utc = utc
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = FileLogHandler.format(
            level: event.level, label: label, message: "\(event.message)", metadata: merged, utc: utc)
        for f in files { f.append(line) }
        if echoToStandardOutput {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARN"
        case .error, .critical: return "ERROR"
        }
    }

    public static func format(
        level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, utc: Bool = true
    ) -> String {
        let lvl = levelName(level).padding(toLength: 5, withPad: " ", startingAt: 0)
        var line = "\(LogTimestamp.format(utc: utc)) \(lvl) [\(label)] \(message)"
        if !metadata.isEmpty {
            line += " {" + metadata.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
                .joined(separator: ", ") + "}"
        }
        return line
    }

    /// `dbms.logs.debug.level` → swift-log level.
    public static func level(named name: String) -> Logger.Level {
        switch name.uppercased() {
        case "DEBUG": return .debug
        case "WARN": return .warning
        case "ERROR": return .error
        default: return .info
        }
    }
}

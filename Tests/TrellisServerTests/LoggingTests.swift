import Foundation
import GraphValues
import Logging
import Testing

@testable import TrellisServer

@Suite("Log files")
struct LoggingTests {
    @Test("a log rotates by size and keeps keep_number old files")
    func rotation() throws {
        let dir = try TemporaryDirectory()
        let file = try RotatingLogFile(path: dir.path + "/debug.log", rotationSizeBytes: 100, keepNumber: 2)
        for i in 0..<20 { file.append("line \(i) " + String(repeating: "x", count: 30)) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["debug.log", "debug.log.1", "debug.log.2"])
        let live = try String(contentsOfFile: dir.path + "/debug.log", encoding: .utf8)
        #expect(live.contains("line 19 "))
        #expect(file.sizeBytes <= 100)
        let newest = try String(contentsOfFile: dir.path + "/debug.log.1", encoding: .utf8)
        let older = try String(contentsOfFile: dir.path + "/debug.log.2", encoding: .utf8)
        #expect(newest.contains("line 17") && older.contains("line 15"))
    }

    @Test("lines have Neo4j's timestamp and padded level")
    func format() {
        let line = FileLogHandler.format(level: .info, label: "trellis", message: "Started.", metadata: [:])
        let pattern = #/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000 INFO  \[trellis\] Started\.$/#
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    }

    @Test("query.log records slow queries with parameters and masks passwords")
    func queryLog() throws {
        let dir = try TemporaryDirectory()
        let file = try RotatingLogFile(path: dir.path + "/query.log", rotationSizeBytes: 1 << 20, keepNumber: 1)
        let log = QueryLog(file: file, threshold: .milliseconds(100), logParameters: true)
        log.record(elapsed: .milliseconds(5), connection: "c", query: "RETURN 1", parameters: [:], metadata: [:],
                   error: nil)
        log.record(elapsed: .milliseconds(250), connection: "bolt-session", query: "MATCH (n) RETURN n",
                   parameters: ["x": .integer(1)], metadata: ["app": .string("t")], error: nil)
        log.record(elapsed: .milliseconds(300), connection: "c", query: "CALL dbms.security.changePassword('hunter2')",
                   parameters: ["p": .string("hunter3")], metadata: [:], error: nil)
        let text = try String(contentsOfFile: dir.path + "/query.log", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2, "the fast query is below the threshold")
        #expect(lines[0].hasSuffix("INFO  250 ms: bolt-session - MATCH (n) RETURN n - {x: 1} - {app: 't'}"))
        #expect(!text.contains("hunter"))
        #expect(lines[1].contains("changePassword('******')"))
    }
}

@Suite("Pid file")
struct PidFileTests {
    @Test("the pid file is locked while held, and stale once released")
    func lock() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/run/trellis.pid"
        #expect(PidFile.runningPid(path) == nil)
        let held = try PidFile(path: path)
        #expect(PidFile.runningPid(path) == getpid())
        #expect(throws: LifecycleError.self) { try PidFile(path: path) }
        held.release()
        #expect(PidFile.runningPid(path) == nil)
        try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(PidFile.runningPid(path) == nil, "an unlocked file is stale even if the pid is alive")
    }
}

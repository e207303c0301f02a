// The `trellis` command: a thin argument layer over TrellisServer (neo4j-ops.md §5 for the behaviour of each
// command and its exit codes).
import ArgumentParser
import Foundation
import TrellisServer

struct TrellisCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trellis",
        abstract: "Trellis graph database server.",
        subcommands: [
            Console.self, Start.self, Stop.self, Restart.self, Status.self, Version.self, Admin.self, Demo.self,
        ])
}

/// Loads the configuration or exits 1 with the message (file, line, setting).
func loadConfig() -> Config {
    do {
        return try Config.load()
    } catch {
        FileHandle.standardError.write(Data("trellis: configuration error: \(error)\n".utf8))
        Foundation.exit(1)
    }
}

func say(_ text: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct Console: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server in the foreground.")
    @Flag(help: .hidden) var daemon = false
    @Option(help: .hidden) var readyFd: Int32?

    func run() throws {
        let config = loadConfig()
        let code = ServerMain.runForeground(config: config, echoUserLog: !daemon, readyDescriptor: readyFd)
        throw ExitCode(code)
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the server in the background.")
    @Option(help: "Seconds to wait for the server to accept connections.") var timeout = 60

    func run() throws {
        let config = loadConfig()
        throw ExitCode(ServerMain.start(config: config, executable: executablePath(), timeout: .seconds(timeout),
                                        output: { say($0) }))
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the background server (SIGTERM, then SIGKILL).")
    @Option(help: "Seconds to wait for a graceful shutdown before SIGKILL.") var timeout = 120

    func run() throws {
        let config = loadConfig()
        throw ExitCode(ServerMain.stop(config: config, timeout: .seconds(timeout), output: { say($0, terminator: "") }))
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop, then start the server.")
    @Option(help: "Seconds to wait for each step.") var timeout = 120

    func run() throws {
        let config = loadConfig()
        let stopped = ServerMain.stop(config: config, timeout: .seconds(timeout), output: { say($0, terminator: "") })
        guard stopped == 0 else { throw ExitCode(stopped) }
        throw ExitCode(ServerMain.start(config: config, executable: executablePath(), timeout: .seconds(timeout),
                                        output: { say($0) }))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Exit 0 if the server runs, 3 if not.")

    func run() throws {
        let config = loadConfig()
        if let pid = PidFile.runningPid(config.pidFile) {
            // In HA the role is what load balancers see on /db/manage/server/ha/available (neo4j-ha.md §7).
            let role = HARoleFile.read(config).map { " (HA role: \($0))" } ?? ""
            say("Trellis is running at pid \(pid)\(role)")
            return
        }
        say("Trellis is not running")
        throw ExitCode(3)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() throws { say("trellis \(Trellis.version) (compatible with Neo4j \(Trellis.compatibleNeo4jVersion))") }
}

struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administration commands.",
        subcommands: [SetInitialPassword.self, CheckConsistency.self, GenerateConfigDocs.self])

    struct CheckConsistency: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-consistency",
            abstract: "Check the store of a stopped server (exit 0 consistent, 1 inconsistent or not checked).")
        @Option(help: "Database folder under <data>/databases (default: dbms.active_database).") var database: String?

        func run() throws {
            let config = loadConfig()
            switch ServerMain.checkConsistency(config: config, database: database) {
            case .consistent(let report):
                say(report)
            case .inconsistent(let report):
                say(report)
                throw ExitCode(1)
            case .failed(let why):
                FileHandle.standardError.write(Data("trellis: \(why)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct SetInitialPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-initial-password",
            abstract: "Set the password of user neo4j before the first start (no change required then).")
        @Argument var password: String

        func run() throws {
            let config = loadConfig()
            do {
                try ServerMain.setInitialPassword(password, config: config)
                say("Changed password for user 'neo4j'.")
            } catch {
                FileHandle.standardError.write(Data("trellis: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct GenerateConfigDocs: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-config-docs", abstract: "Write the configuration reference (markdown).")
        @Option(help: "File to write; standard output when omitted.") var output: String?

        func run() throws {
            let text = ConfigDocs.markdown()
            if let output {
                do {
                    try text.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    let underlying = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error) as NSError?
                    let reason = underlying.map { String(cString: strerror(Int32($0.code))) }
                        ?? error.localizedDescription
                    FileHandle.standardError.write(Data("trellis: cannot write \(output): \(reason)\n".utf8))
                    throw ExitCode(1)
                }
            } else {
                say(text, terminator: "")
            }
        }
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and read a small graph through the embedded database, printing each step.")
    @Option(help: "Home folder for the demo database (default: a new temporary folder, removed afterwards).")
    var directory: String?

    func run() throws {
        throw ExitCode(ServerMain.demo(directory: directory, output: { say($0) }))
    }
}

TrellisCommand.main()

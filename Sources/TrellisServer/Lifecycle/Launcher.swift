import Foundation

/// The background side of `trellis start|stop|status|restart` (neo4j-ops.md §5): spawn `trellis console`
/// detached, wait until its ports accept connections; stop with SIGTERM, then SIGKILL after a time-out.
public enum Launcher {
    public enum StartOutcome: Equatable {
        case started(pid_t)
        case alreadyRunning(pid_t)
        case failed(String)
    }

    /// Starts `executable console --daemon` detached (new session, stdin/stdout to /dev/null, stderr appended
    /// to `logs/trellis-stderr.log` so a crash leaves its message), then waits up to `timeout` for the pid file
    /// and for every address in `ports` to accept connections.
    public static func start(
        executable: String, config: Config, environment: [String: String], ports: [(String, Int)],
        timeout: Duration
    ) -> StartOutcome {
        if let pid = PidFile.runningPid(config.pidFile) { return .alreadyRunning(pid) }
        do {
            try FileManager.default.createDirectory(atPath: config.logsDirectory, withIntermediateDirectories: true)
        } catch {
            return .failed("cannot create \(config.logsDirectory): \(error)")
        }
        let stderrPath = (config.logsDirectory as NSString).appendingPathComponent("trellis-stderr.log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: the server must not die with the shell that ran `trellis start`.
        posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID (glibc 2.26+), not imported
        var env = environment
        env["TRELLIS_HOME"] = config.home
        let argv = [executable, "console", "--daemon"]
        let envp = env.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(envp) { cenvp in posix_spawn(&pid, executable, &actions, &attributes, cargv, cenvp) }
        }
        guard rc == 0 else { return .failed("cannot run \(executable): \(String(cString: strerror(rc)))") }

        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                return .failed("the server exited during start-up; see \(config.logsDirectory)/trellis.log")
            }
            if PidFile.runningPid(config.pidFile) == pid && ports.allSatisfy({ canConnect(host: $0.0, port: $0.1) }) {
                return .started(pid)
            }
            usleep(50_000)
        }
        return .failed("the server did not accept connections within \(timeout); see \(config.logsDirectory)/trellis.log")
    }

    /// SIGTERM, wait up to `timeout` for the process to end, then SIGKILL. Returns false if it could not be
    /// stopped (or was not running when `notRunningIsFailure`).
    public static func stop(config: Config, timeout: Duration, progress: (String) -> Void = { _ in }) -> Bool {
        guard let pid = PidFile.runningPid(config.pidFile) else { return true }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        var dots = 0
        while ContinuousClock.now < deadline {
            if !isAlive(pid) { return true }
            usleep(100_000)
            dots += 1
            if dots % 10 == 0 { progress(".") }
        }
        kill(pid, SIGKILL)
        for _ in 0..<50 where isAlive(pid) { usleep(100_000) }
        if !isAlive(pid) { try? FileManager.default.removeItem(atPath: config.pidFile) }
        return !isAlive(pid)
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        // Reap it if it is our child (restart from the same process); otherwise probe.
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        return kill(pid, 0) == 0
    }

    /// Whether a TCP connection to host:port succeeds now (0.0.0.0 and :: are probed on loopback).
    public static func canConnect(host: String, port: Int) -> Bool {
        let target = (host == "0.0.0.0" || host.isEmpty) ? "127.0.0.1" : (host == "::" ? "::1" : host)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(target, String(port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd >= 0 {
                let ok = connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0
                close(fd)
                if ok { return true }
            }
            info = ai.pointee.ai_next
        }
        return false
    }

    static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return body(pointers)
    }
}

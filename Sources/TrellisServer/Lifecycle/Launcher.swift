import Foundation

/// The background side of `trellis start|stop|status|restart` (neo4j-ops.md §5): spawn `trellis console`
/// detached, wait until it reports that it started; stop with SIGTERM, then SIGKILL after a time-out.
public enum Launcher {
    public enum StartOutcome: Equatable {
        case started(pid_t)
        case alreadyRunning(pid_t)
        case failed(String)
    }

    /// The descriptor number a daemon finds its readiness pipe on (`trellis console --daemon --ready-fd 3`).
    public static let readyDescriptor: Int32 = 3
    /// What a daemon writes on its readiness pipe once every connector is bound.
    public static let readyMessage = "started\n"

    /// Starts `executable console --daemon` detached (new session, stdin/stdout to /dev/null, stderr appended
    /// to `logs/trellis-stderr.log` so a crash leaves its message), then waits up to `timeout` for the server to
    /// report that it started.
    ///
    /// Readiness comes from the server itself, over a pipe it inherits as descriptor 3: it writes
    /// `readyMessage` once its connectors are bound, and a server that fails closes the pipe by exiting. Probing
    /// the ports instead would call a start successful when another process holds one of them (the server then
    /// fails to bind, but the port answers). `ports` are still probed after the message, as a last check that
    /// they accept connections.
    public static func start(
        executable: String, config: Config, environment: [String: String], ports: [(String, Int)],
        timeout: Duration
    ) -> StartOutcome {
        if let pid = PidFile.runningPid(config.pidFile) { return .alreadyRunning(pid) }
        do {
            try FileManager.default.createDirectory(atPath: config.logsDirectory, withIntermediateDirectories: true)
        } catch {
            return .failed("cannot create the folder \(config.logsDirectory) (dbms.directories.logs): "
                + StartupErrors.reason(error))
        }
        let stderrPath = (config.logsDirectory as NSString).appendingPathComponent("trellis-stderr.log")
        // Where this start's standard error begins, so that a failure can quote the server's own reason.
        let stderrOffset = (try? FileManager.default.attributesOfItem(atPath: stderrPath)[.size] as? Int) ?? 0
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            return .failed("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        defer { close(readEnd) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // dup2 clears close-on-exec on the copy: the child keeps only descriptor 3 of the pipe.
        posix_spawn_file_actions_adddup2(&actions, writeEnd, readyDescriptor)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: the server must not die with the shell that ran `trellis start`.
        posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID (glibc 2.26+), not imported
        var env = environment
        env["TRELLIS_HOME"] = config.home
        let argv = [executable, "console", "--daemon", "--ready-fd", String(readyDescriptor)]
        let envp = env.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(envp) { cenvp in posix_spawn(&pid, executable, &actions, &attributes, cargv, cenvp) }
        }
        close(writeEnd)  // only the child holds it now, so its exit ends the pipe
        guard rc == 0 else { return .failed("cannot run \(executable): \(String(cString: strerror(rc)))") }

        func failure() -> StartOutcome {
            // The server has closed the pipe without reporting success: it is exiting. Give it a moment to
            // finish writing its reason.
            for _ in 0..<100 where isAlive(pid) { usleep(50_000) }
            var reason = startFailureReason(stderrPath: stderrPath, from: stderrOffset)
                ?? "the server exited during start-up"
            if reason.hasSuffix(".") { reason.removeLast() }
            return .failed("\(reason); see \(config.logsDirectory)/trellis.log")
        }
        let deadline = ContinuousClock.now + timeout
        var received = ""
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR { break }
            if ready > 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = read(readEnd, &buffer, buffer.count)
                if n <= 0 { return failure() }
                received += String(decoding: buffer[0..<n], as: UTF8.self)
                if received.hasPrefix(readyMessage) { break }
            }
        }
        guard received.hasPrefix(readyMessage) else {
            return .failed("the server did not report a successful start within \(timeout); see "
                + "\(config.logsDirectory)/trellis.log")
        }
        while ContinuousClock.now < deadline {
            if !isAlive(pid) { return failure() }
            if ports.allSatisfy({ canConnect(host: $0.0, port: $0.1) }) { return .started(pid) }
            usleep(50_000)
        }
        return .failed("the server did not accept connections within \(timeout); see \(config.logsDirectory)/trellis.log")
    }

    /// The reason a daemon gave for not starting: its last "trellis: …" line on standard error written after
    /// `offset` (`trellis console --daemon` writes "trellis: failed to start: <why>" there before exiting 1).
    static func startFailureReason(stderrPath: String, from offset: Int) -> String? {
        guard let handle = FileHandle(forReadingAtPath: stderrPath) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil,
            let data = try? handle.read(upToCount: 1 << 20), let text = String(data: data, encoding: .utf8)
        else { return nil }
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("trellis: ") }) else { return nil }
        let message = line.dropFirst("trellis: ".count)
        let failed = "failed to start: "
        return String(message.hasPrefix(failed) ? message.dropFirst(failed.count) : message)
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

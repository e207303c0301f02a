import BoltCore
import BoltServer
import Foundation
import GraphValues
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Server CPU per query over Bolt, with a raw-socket Python client in a child process (so the client's CPU is
/// not counted) and the fake service (so only the Bolt layer is measured). A benchmark, not a test: it asserts
/// nothing about speed and runs only with BOLT_BENCH=1:
///     BOLT_BENCH=1 swift test -c release --filter BoltBenchmark
@Suite("Bolt benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["BOLT_BENCH"] == "1"))
struct BoltBenchmark {
    /// Sends `prefix` once, then `request` `count` times, each time waiting for `replies` complete messages.
    static let client = """
        import socket, sys, time
        port, count, replies = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        prefix, request = bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(bytes.fromhex("6060b01700080805000000000000000000000000"))
        buf = b""
        while len(buf) < 4: buf += s.recv(65536)
        buf = buf[4:]
        def read_messages(n):
            global buf
            done, pos = 0, 0
            while done < n:
                while True:
                    if len(buf) - pos < 2:
                        buf = buf[pos:]; pos = 0; buf += s.recv(65536); continue
                    size = int.from_bytes(buf[pos:pos + 2], "big")
                    if len(buf) - pos < 2 + size:
                        buf = buf[pos:]; pos = 0; buf += s.recv(65536); continue
                    pos += 2 + size
                    if size == 0: break
                done += 1
            buf = buf[pos:]
        s.sendall(prefix)
        read_messages(2)
        start = time.perf_counter()
        for _ in range(count):
            s.sendall(request)
            read_messages(replies)
        print(time.perf_counter() - start)
        """

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    func measure(_ name: String, request: [UInt8], replies: Int, count: Int = 20_000) async throws {
        let prefix = message(0x01, [.map(["user_agent": .string("bench")])])
            + message(0x6A, [.map(["scheme": .string("basic"), "principal": .string("neo4j"),
                "credentials": .string("secret")])])
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        try await withServer { _, port in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = ["-c", Self.client, "\(port)", "\(count)", "\(replies)", hex(prefix), hex(request)]
            let out = Pipe()
            p.standardOutput = out
            let cpu0 = Self.cpuSeconds()
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let cpu = Self.cpuSeconds() - cpu0
            let wall = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                ?? .nan
            print(String(format: "BENCH %@: %d queries, server CPU %.1f µs/query, %.0f queries/s (1 client)",
                name, count, cpu / Double(count) * 1e6, Double(count) / wall))
        }
    }

    @Test("auto-commit RETURN 1: RUN + PULL pipelined, one row")
    func returnOne() async throws {
        try await measure("RETURN 1", request: run("RETURN 1 AS x", [:], ["db": .string("neo4j")]) + pull(),
            replies: 3)
    }

    @Test("auto-commit 100 rows of 2 columns")
    func hundredRows() async throws {
        try await measure("100 rows", request: run("ROWS 100 10") + pull(), replies: 102, count: 5_000)
    }
}

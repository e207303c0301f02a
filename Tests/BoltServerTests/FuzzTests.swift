import BoltCore
import Foundation
import GraphValues
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import BoltServer

/// Deterministic generator (SplitMix64) so a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random and mutated frames must end in replies or a closed connection: never a crash, a leaked session or
/// connection slot, or a stuck worker. Seed: BOLT_FUZZ_SEED (default fixed); cases: BOLT_FUZZ_CASES.
@Suite("Bolt fuzzing", .serialized)
struct FuzzTests {
    static let seed = UInt64(ProcessInfo.processInfo.environment["BOLT_FUZZ_SEED"] ?? "") ?? 0xB017_2026
    static let cases = Int(ProcessInfo.processInfo.environment["BOLT_FUZZ_CASES"] ?? "")
        ?? (ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == "1" ? 50_000 : 4_000)

    /// A valid session to mutate: manifest handshake choosing 5.8, HELLO, LOGON, a few transactions.
    static let validSession: [UInt8] = {
        var s = RawBoltClient.pythonHandshake + [0, 0, 8, 5, 0]
        s += message(0x01, [.map(["user_agent": .string("fuzz"), "routing": .map(["address": .string("h:1")])])])
        s += message(0x6A, [.map(["scheme": .string("basic"), "principal": .string("neo4j"),
            "credentials": .string("secret")])])
        s += run("ECHO", ["v": .list([.date(CypherDate(epochDays: 3)), .map(["a": .float(1)]),
            .point(CypherPoint(srid: 7203, x: 1, y: 2)), .string("héllo")])]) + pull()
        s += begin(["bookmarks": .list([.string("b")]), "tx_timeout": .integer(100)]) + run("ROWS 3") + pull(1)
        s += discard() + commitMessage
        s += run("FAIL Neo.TransientError.General.DatabaseUnavailable") + pull() + resetMessage
        s += message(0x66, [.map(["address": .string("h:1")]), .list([]), .map(["db": .string("neo4j")])])
        s += run("VALUES") + pull() + message(0x6B, []) + goodbyeMessage
        return s
    }()

    /// A 4.4 session (legacy handshake, auth in HELLO).
    static let legacySession: [UInt8] = {
        var s = hexBytes("6060b017 00020404 00000000 00000000 00000000")
        let o = PackStreamOptions(version: .v4_4)
        s += message(0x01, [.map(["scheme": .string("basic"), "principal": .string("neo4j"),
            "credentials": .string("secret"), "patch_bolt": .list([.string("utc")])])], options: o)
        s += run("CREATE") + pull(-1) + begin() + run("RETURN 1") + pull() + rollbackMessage
        return s
    }()

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        if bytes.count < 2 { bytes += [0x60, 0x60] }
        let kind = Int.random(in: 0..<6, using: &rng)
        switch kind {
        case 0:  // random bytes after the handshake
            let keep = Int.random(in: min(20, bytes.count)...min(40, bytes.count), using: &rng)
            bytes = Array(bytes[..<keep])
            bytes += (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 1:  // bit flips
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            }
        case 2:  // truncation
            bytes = Array(bytes[..<Int.random(in: 0..<bytes.count, using: &rng)])
        case 3:  // insert or delete a run of bytes
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            if Bool.random(using: &rng) {
                bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in
                    UInt8.random(in: 0...255, using: &rng)
                }, at: i)
            } else {
                bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...16, using: &rng)))
            }
        case 4:  // an interesting byte (markers, sizes) written somewhere
            let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0xB0, 0xBF, 0xC0, 0xC4, 0xCE, 0xD2, 0xD6, 0xDA, 0xDF]
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[i] = interesting.randomElement(using: &rng)!
        default:  // totally random
            bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        return bytes
    }

    /// Checks that the server's output is a handshake reply followed by well-formed replies.
    static func checkOutput(_ output: [UInt8]) -> String? {
        var b = ByteBuffer(bytes: output)
        guard b.readableBytes > 0 else { return nil }
        guard let head = b.readBytes(length: 4) else { return "short handshake reply \(output)" }
        if head == [0, 0, 1, 0xFF] {
            guard let n = b.readInteger(as: UInt8.self), b.readBytes(length: Int(n) * 4 + 1) != nil else {
                return "bad manifest"
            }
        }
        var dechunker = BoltChunkDecoder(maxMessageBytes: 1 << 26)
        do {
            while var body = try dechunker.next(from: &b) {
                var ok = false
                for options in [PackStreamOptions(version: .v5_8), PackStreamOptions(version: .v4_4),
                    PackStreamOptions(elementIds: false, utcDateTime: true)]
                {
                    var copy = body
                    let d = PackStreamDecoder(options: options, allowGraphStructures: true)
                    guard let (tag, count) = try? d.readStructHeader(from: &copy),
                        [0x70, 0x71, 0x7E, 0x7F].contains(tag)
                    else { continue }
                    if (0..<count).allSatisfy({ _ in (try? d.readValue(from: &copy)) != nil }),
                        copy.readableBytes == 0
                    {
                        ok = true
                        break
                    }
                }
                body.moveReaderIndex(to: body.writerIndex)
                if !ok { return "malformed reply" }
            }
        } catch {
            return "bad chunking: \(error)"
        }
        if b.readableBytes != 0 { return "\(b.readableBytes) trailing bytes" }
        return nil
    }

    func makeShared(_ service: FakeDatabaseService, maxMessageBytes: Int = 4096) -> BoltServerShared {
        var config = BoltServerConfiguration()
        config.maxMessageBytes = maxMessageBytes
        config.maxNestingDepth = 16
        return BoltServerShared(configuration: config, service: service,
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }), inlineExecution: true)
    }

    @Test("the valid corpus itself runs cleanly through an EmbeddedChannel")
    func corpusIsValid() throws {
        let service = FakeDatabaseService()
        let shared = makeShared(service)
        for session in [Self.validSession, Self.legacySession] {
            let channel = EmbeddedChannel(handler: BoltChannelHandler(shared: shared))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try channel.writeInbound(ByteBuffer(bytes: session))
            channel.embeddedEventLoop.run()
            var output: [UInt8] = []
            while let out = try channel.readOutbound(as: ByteBuffer.self) { output += out.readableBytesView }
            #expect(Self.checkOutput(output) == nil)
            var b = ByteBuffer(bytes: output)
            _ = b.readBytes(length: output[3] == 0xFF ? 4 + 1 + Int(output[4]) * 4 + 1 : 4)
            var dechunker = BoltChunkDecoder(maxMessageBytes: 1 << 26)
            var tags: [UInt8] = []
            while let body = try dechunker.next(from: &b) { tags.append(body.getInteger(at: body.readerIndex + 1)!) }
            // No FAILURE except the injected one (then IGNORED for its PULL).
            #expect(tags.filter { $0 == 0x7F }.count == (session == Self.validSession ? 1 : 0), "\(tags)")
            _ = try? channel.finish()
        }
        #expect(service.openSessions.load(ordering: .relaxed) == 0)
        #expect(shared.connections.load(ordering: .relaxed) == 0)
    }

    @Test("thousands of random and mutated frames through an EmbeddedChannel")
    func embeddedFuzz() throws {
        var rng = SplitMix64(seed: Self.seed)
        let service = FakeDatabaseService()
        let shared = makeShared(service)
        for n in 0..<Self.cases {
            let base = Bool.random(using: &rng) ? Self.validSession : Self.legacySession
            var input = Self.mutate(base, &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 { input = Self.mutate(input, &rng) }
            let channel = EmbeddedChannel(handler: BoltChannelHandler(shared: shared))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            var rest = input[...]
            while !rest.isEmpty && channel.isActive {
                let size = Int.random(in: 1...max(1, rest.count), using: &rng)
                try? channel.writeInbound(ByteBuffer(bytes: rest.prefix(size)))
                rest = rest.dropFirst(size)
                channel.embeddedEventLoop.run()
            }
            var output: [UInt8] = []
            while let out = try? channel.readOutbound(as: ByteBuffer.self) { output += out.readableBytesView }
            if let problem = Self.checkOutput(output) {
                Issue.record("case \(n) (seed \(Self.seed)): \(problem); input \(input)")
                break
            }
            _ = try? channel.finish()
        }
        #expect(service.openSessions.load(ordering: .relaxed) == 0, "sessions leaked")
        #expect(shared.connections.load(ordering: .relaxed) == 0, "connection slots leaked")
        #expect(shared.liveConnections.load(ordering: .relaxed) == 0, "connections not cleaned up")
    }

    @Test("mutated frames over a real loopback socket; the server stays healthy afterwards")
    func loopbackFuzz() async throws {
        var config = BoltServerConfiguration()
        config.maxMessageBytes = 4096
        let service = FakeDatabaseService()
        try await withServer(config, service: service) { server, port in
            var rng = SplitMix64(seed: Self.seed ^ 0x5EED)
            var stuck = 0
            for _ in 0..<300 {
                let base = Bool.random(using: &rng) ? Self.validSession : Self.legacySession
                let input = Self.mutate(base, &rng)
                let c = try RawBoltClient(port: port, timeoutSeconds: 5)
                try? c.send(input)
                c.shutdownWrite()
                // The server must answer and close (EOF after our half-close) — a timeout means a stuck worker.
                if !c.waitForClose() { stuck += 1 }
            }
            #expect(stuck == 0)
            let c = try RawBoltClient(port: port)
            _ = try c.open()
            try c.send(run("RETURN 1") + pull())
            #expect(try c.readReplies(3)[1] == .record([.integer(1)]))
            try c.send(goodbyeMessage)
            #expect(c.waitForClose())
            #expect(await eventually { server.connectionCount == 0 })
            #expect(await eventually { service.openSessions.load(ordering: .relaxed) == 0 })
        }
    }
}

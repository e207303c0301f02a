import BoltCore
import Foundation
import GraphValues
import NIOCore
import NIOPosix

/// A Bolt server that does no work: a measuring tool for a client's own ceiling, never a database.
///
/// It negotiates versions with the same `BoltHandshake` as the real server, answers HELLO / LOGON / LOGOFF /
/// TELEMETRY / RESET / BEGIN / COMMIT / ROLLBACK / ROUTE at once, and answers RUN + PULL (or DISCARD) with canned
/// replies of the shape Trellis sends: RUN's SUCCESS `{fields, t_first}`; for a statement with a RETURN clause one
/// RECORD with an integer per column; PULL's SUCCESS `{type, t_last, db}` plus `bookmark` outside an explicit
/// transaction and, for a write, a `stats` map the size of a one-node CREATE's. Messages are never decoded: only a
/// message's first chunk is kept (its struct tag and, for RUN, the query text — the parameters are never parsed);
/// later chunks are skipped by their headers as they arrive. Nothing is stored and every answer is a constant, so
/// what a client does against it per operation is what that client costs on its own: the time its driver needs
/// to pack the request and unpack the replies. Replies to messages that arrive together (a pipelined RUN + PULL)
/// leave in one write, as the real server's event-loop path sends them.
///
/// It is not a Bolt server for anything else: it accepts any credentials, answers every query with the same
/// constant, and closes the connection on a message it does not know. `trellis-tools bolt-null-server` runs it;
/// docs/performance.md "What the client costs" uses it.
public final class NullBoltServer: Sendable {
    /// The agent reported in HELLO's SUCCESS.
    public let serverAgent: String
    let group: MultiThreadedEventLoopGroup
    let channel: Channel

    /// The bound port (the requested one, or the one the kernel picked for port 0).
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Binds `host:port` (port 0 picks a free one) with `threads` event loops. `replyDelay` holds every batch of
    /// replies back that long (zero: sent at once), to see what a client spends waiting for a server as slow as a
    /// real one (it sleeps, and wakes up with cold caches) apart from what it spends on the replies.
    public init(host: String, port: Int, serverAgent: String, threads: Int = 1, replyDelay: TimeAmount = .zero)
        throws
    {
        precondition(threads > 0, "threads must be positive, got \(threads)")
        precondition(replyDelay >= .zero, "replyDelay must not be negative")
        self.serverAgent = serverAgent
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.group = group
        let agent = serverAgent
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let address = channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" }
                    try channel.pipeline.syncOperations.addHandler(
                        NullBoltHandler(
                            serverAgent: agent, address: address ?? "\(host):\(port)", replyDelay: replyDelay))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Blocks until the listening channel closes (for the command-line tool).
    public func waitUntilClosed() throws {
        try channel.closeFuture.wait()
    }

    /// Closes the listener and stops the event loops.
    public func stop() throws {
        try? channel.close().wait()
        try group.syncShutdownGracefully()
    }
}

/// What a statement's canned answer looks like, worked out once per query text.
struct NullStatementShape {
    var fields: [String]
    var type: String
    var isWrite: Bool

    /// Looks at the query text only (never the parameters): the columns after the last RETURN, and whether the
    /// statement writes (CREATE, MERGE, SET, DELETE, REMOVE) or changes the schema.
    init(query: String) {
        let upper = query.uppercased()
        let words = Set(upper.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).map(String.init))
        let schema = words.contains("CONSTRAINT") || words.contains("INDEX") && !words.contains("CALL")
        let writes = !words.isDisjoint(with: ["CREATE", "MERGE", "SET", "DELETE", "REMOVE"])
        fields = Self.returnColumns(query)
        if schema && writes {
            type = "s"
            isWrite = false
        } else if writes {
            type = fields.isEmpty ? "w" : "rw"
            isWrite = true
        } else {
            type = "r"
            isWrite = false
        }
    }

    /// Column names of the last RETURN clause: items split at top-level commas, `x AS name` named `name`,
    /// ORDER BY / SKIP / LIMIT cut off.
    static func returnColumns(_ query: String) -> [String] {
        let chars = Array(query)
        let upper = Array(query.uppercased())
        func wordAt(_ i: Int, _ word: String) -> Bool {
            let w = Array(word)
            guard i + w.count <= upper.count, Array(upper[i..<i + w.count]) == w else { return false }
            let before = i == 0 || !(upper[i - 1].isLetter || upper[i - 1].isNumber || upper[i - 1] == "_")
            let afterIndex = i + w.count
            let after = afterIndex == upper.count
                || !(upper[afterIndex].isLetter || upper[afterIndex].isNumber || upper[afterIndex] == "_")
            return before && after
        }
        guard let start = (0..<upper.count).last(where: { wordAt($0, "RETURN") }) else { return [] }
        var items: [String] = []
        var current = ""
        var depth = 0
        var i = start + 6
        while i < chars.count {
            let c = chars[i]
            if depth == 0 && (wordAt(i, "ORDER") || wordAt(i, "SKIP") || wordAt(i, "LIMIT")) { break }
            switch c {
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            default: break
            }
            if c == "," && depth == 0 {
                items.append(current)
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        items.append(current)
        return items.compactMap { item in
            let text = item.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { return nil }
            let words = text.split(separator: " ", omittingEmptySubsequences: true)
            if words.count >= 3, words[words.count - 2].uppercased() == "AS" { return String(words.last!) }
            return text
        }
    }
}

/// One connection of the null server. Event-loop confined.
final class NullBoltHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Canned replies for one query text: RUN's SUCCESS, and PULL's records + SUCCESS in and outside a transaction.
    struct Replies {
        var run: ByteBuffer
        var pullAutoCommit: ByteBuffer
        var pullInTransaction: ByteBuffer
        var discardAutoCommit: ByteBuffer
        var discardInTransaction: ByteBuffer
    }

    static let maxCachedQueries = 1_024
    static let bookmark = "FB:trellis:tx:1"

    let serverAgent: String
    let address: String
    let replyDelay: TimeAmount
    var handshake = BoltHandshake()
    var version: BoltVersion?
    var viaManifest = false
    var pending: ByteBuffer?
    /// First chunk of the message being received (nil between messages).
    var head: ByteBuffer?
    /// Bytes of a later chunk of the current message still to skip.
    var skipRemaining = 0
    var out: ByteBuffer?
    var inTransaction = false
    var open: Replies?
    var cache: [String: Replies] = [:]
    var encoder = BoltResponseEncoder(version: .v5_8)

    init(serverAgent: String, address: String, replyDelay: TimeAmount) {
        self.serverAgent = serverAgent
        self.address = address
        self.replyDelay = replyDelay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var held = pending, held.readableBytes > 0 {
            held.writeBuffer(&buffer)
            buffer = held
        }
        pending = nil
        if out == nil { out = context.channel.allocator.buffer(capacity: 512) }
        if version == nil {
            switch handshake.feed(&buffer) {
            case .needMoreBytes:
                pending = buffer
                return
            case .sendAndWait(let reply):
                out!.writeBytes(reply)
                pending = buffer
                flush(context: context)
                return
            case .completed(let reply, let negotiated, let manifest):
                out!.writeBytes(reply)
                version = negotiated
                viaManifest = manifest
                encoder = BoltResponseEncoder(version: negotiated)
            case .reject(let reply, _):
                out!.writeBytes(reply)
                flush(context: context)
                context.close(promise: nil)
                return
            }
        }
        while true {
            if skipRemaining > 0 {
                let n = min(skipRemaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                skipRemaining -= n
                if skipRemaining > 0 { break }
                continue
            }
            guard let size = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { break }
            if size == 0 {
                buffer.moveReaderIndex(forwardBy: 2)
                if let message = head {
                    head = nil
                    guard handle(message, context: context) else { return }
                }
                continue
            }
            if head == nil {
                guard buffer.readableBytes >= 2 + Int(size) else { break }
                buffer.moveReaderIndex(forwardBy: 2)
                head = buffer.readSlice(length: Int(size))
            } else {
                buffer.moveReaderIndex(forwardBy: 2)
                skipRemaining = Int(size)
            }
        }
        if buffer.readableBytes > 0 { pending = buffer }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard replyDelay > .zero, let buffer = out, buffer.readableBytes > 0 else { return flush(context: context) }
        out = nil
        // Same delay for every batch, so the event loop's timers keep the replies in order.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: replyDelay) { channel.writeAndFlush(buffer, promise: nil) }
    }

    func flush(context: ChannelHandlerContext) {
        guard let buffer = out, buffer.readableBytes > 0 else { return }
        out = nil
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Answers one message from its first chunk. Returns false when the connection is being closed.
    func handle(_ message: ByteBuffer, context: ChannelHandlerContext) -> Bool {
        guard message.readableBytes >= 2, let marker = message.getInteger(at: message.readerIndex, as: UInt8.self),
            marker & 0xF0 == 0xB0, let tag = message.getInteger(at: message.readerIndex + 1, as: UInt8.self)
        else {
            return fail("a message that is not a PackStream structure", context: context)
        }
        switch tag {
        case 0x01:  // HELLO
            var metadata: [String: Value] = [
                "server": .string(serverAgent), "connection_id": .string("bolt-null"), "hints": .map([:]),
            ]
            if viaManifest, let version { metadata["protocol_version"] = .string(version.description) }
            success(metadata)
        case 0x6A, 0x6B, 0x54:  // LOGON, LOGOFF, TELEMETRY
            success([:])
        case 0x0F:  // RESET
            inTransaction = false
            open = nil
            success([:])
        case 0x11:  // BEGIN
            inTransaction = true
            success([:])
        case 0x12:  // COMMIT
            inTransaction = false
            open = nil
            success(["bookmark": .string(Self.bookmark)])
        case 0x13:  // ROLLBACK
            inTransaction = false
            open = nil
            success([:])
        case 0x66:  // ROUTE
            let servers: [Value] = ["ROUTE", "READ", "WRITE"].map {
                .map(["addresses": .list([.string(address)]), "role": .string($0)])
            }
            success(["rt": .map(["ttl": .integer(300), "db": .string("neo4j"), "servers": .list(servers)])])
        case 0x10:  // RUN
            let replies = replies(for: Self.queryText(message))
            var run = replies.run
            out!.writeBuffer(&run)
            open = replies
        case 0x3F, 0x2F:  // PULL, DISCARD
            let replies = open ?? replies(for: "")
            open = nil
            var answer: ByteBuffer
            switch (tag == 0x3F, inTransaction) {
            case (true, false): answer = replies.pullAutoCommit
            case (true, true): answer = replies.pullInTransaction
            case (false, false): answer = replies.discardAutoCommit
            case (false, true): answer = replies.discardInTransaction
            }
            out!.writeBuffer(&answer)
        case 0x02:  // GOODBYE
            flush(context: context)
            context.close(promise: nil)
            return false
        default:
            return fail("message 0x\(String(tag, radix: 16)), which the null server does not answer", context: context)
        }
        return true
    }

    func success(_ metadata: [String: Value]) {
        encoder.writeSuccess(metadata, to: &out!)
    }

    func fail(_ what: String, context: ChannelHandlerContext) -> Bool {
        encoder.writeFailure(DatabaseError(.invalidRequest, "bolt-null-server: \(what)"), to: &out!)
        flush(context: context)
        context.close(promise: nil)
        return false
    }

    /// The query text of a RUN (the first field), from its first chunk; what the chunk holds of it when the text
    /// runs on into a later chunk (the answer only depends on the words in it).
    static func queryText(_ message: ByteBuffer) -> String {
        var body = message
        body.moveReaderIndex(forwardBy: 2)
        guard let marker = body.readInteger(as: UInt8.self) else { return "" }
        let length: Int
        switch marker {
        case 0x80...0x8F: length = Int(marker & 0x0F)
        case 0xD0: length = Int(body.readInteger(as: UInt8.self) ?? 0)
        case 0xD1: length = Int(body.readInteger(as: UInt16.self) ?? 0)
        case 0xD2: length = Int(body.readInteger(as: UInt32.self) ?? 0)
        default: return ""
        }
        return body.readString(length: min(length, body.readableBytes)) ?? ""
    }

    func replies(for query: String) -> Replies {
        if let cached = cache[query] { return cached }
        let shape = NullStatementShape(query: query)
        func buffer(_ fill: (inout ByteBuffer) -> Void) -> ByteBuffer {
            var b = ByteBuffer()
            fill(&b)
            return b
        }
        let run = buffer {
            encoder.writeSuccess(["fields": .list(shape.fields.map { .string($0) }), "t_first": .integer(0)], to: &$0)
        }
        func summary(autoCommit: Bool) -> [String: Value] {
            var m: [String: Value] = ["type": .string(shape.type), "t_last": .integer(0), "db": .string("neo4j")]
            if autoCommit { m["bookmark"] = .string(Self.bookmark) }
            if shape.isWrite {
                m["stats"] = .map([
                    "nodes-created": .integer(1), "labels-added": .integer(1), "properties-set": .integer(4),
                    "contains-updates": .boolean(true),
                ])
            }
            return m
        }
        let record: [Value] = shape.fields.indices.map { .integer(Int64($0) + 1) }
        let replies = Replies(
            run: run,
            pullAutoCommit: buffer {
                if !record.isEmpty { encoder.writeRecord(record, to: &$0) }
                encoder.writeSuccess(summary(autoCommit: true), to: &$0)
            },
            pullInTransaction: buffer {
                if !record.isEmpty { encoder.writeRecord(record, to: &$0) }
                encoder.writeSuccess(summary(autoCommit: false), to: &$0)
            },
            discardAutoCommit: buffer { encoder.writeSuccess(summary(autoCommit: true), to: &$0) },
            discardInTransaction: buffer { encoder.writeSuccess(summary(autoCommit: false), to: &$0) })
        if cache.count >= Self.maxCachedQueries { cache.removeAll() }
        cache[query] = replies
        return replies
    }
}

import GraphValues
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import TrellisService

/// The HTTP API server (`dbms.connector.http`, default :7474): discovery, the transactional Cypher endpoint,
/// the Query API v2, HA status endpoints and the browser page, over SwiftNIO's HTTP/1.1 codec.
///
/// Requests are read whole (bounded by `maxRequestBodyBytes`), then answered on a thread pool because every
/// database call is blocking; the event loops only parse and write. Keep-alive and pipelining follow HTTP/1.1
/// (NIO's pipelining handler keeps responses in request order). Open transactions are rolled back after
/// `transactionIdleTimeout` without a request, by a timer that also runs on the pool.
public final class HTTPServer: Sendable {
    /// Settings, with Neo4j's defaults. The server engineer maps `dbms.connector.http.*`,
    /// `dbms.rest.transaction.idle_timeout` and `dbms.security.ha_status_auth_enabled` onto these.
    public struct Configuration: Sendable {
        /// Address to listen on; port 0 picks a free port (see `HTTPServer.localPort`).
        public var host: String
        public var port: Int
        /// `host:port` used in links when a request has no Host header (HTTP/1.0 clients).
        public var advertisedAddress: String
        /// `host:port` of Bolt, advertised in the discovery document.
        public var boltAdvertisedAddress: String
        /// `dbms.rest.transaction.idle_timeout` (Neo4j 3.x/4.x default: 60 s).
        public var transactionIdleTimeout: Duration
        /// A keep-alive connection with no request for this long is closed (never during a response).
        public var idleConnectionTimeout: Duration
        /// Requests with a larger body are refused with 413 before the body is read.
        public var maxRequestBodyBytes: Int
        /// Open HTTP transactions at once; beyond it, begin answers ResourceExhaustion.
        public var maxOpenTransactions: Int
        /// Threads that make the blocking database calls.
        public var workerThreads: Int
        /// `dbms.security.ha_status_auth_enabled` (default true): whether the HA endpoints need credentials.
        public var haStatusAuthEnabled: Bool
        /// `community` or `enterprise`, as the discovery document reports it.
        public var edition: String
        /// Serve HTTPS with this context (the `https` connector); nil serves plain HTTP.
        public var tlsContext: NIOSSLContext?
        /// Receives one NCSA combined-log line per request (`logs/http.log` when `dbms.logs.http.enabled`).
        public var requestLog: (@Sendable (String) -> Void)?

        public var tlsEnabled: Bool { tlsContext != nil }

        public init(
            host: String = "127.0.0.1", port: Int = 7474, advertisedAddress: String? = nil,
            boltAdvertisedAddress: String = "localhost:7687", transactionIdleTimeout: Duration = .seconds(60),
            idleConnectionTimeout: Duration = .seconds(300), maxRequestBodyBytes: Int = 16 * 1024 * 1024, maxOpenTransactions: Int = 1000, workerThreads: Int = 8,
            haStatusAuthEnabled: Bool = true, edition: String = "enterprise", tlsContext: NIOSSLContext? = nil,
            requestLog: (@Sendable (String) -> Void)? = nil
        ) {
            self.host = host
            self.port = port
            self.advertisedAddress = advertisedAddress ?? "\(host == "0.0.0.0" ? "localhost" : host):\(port)"
            self.boltAdvertisedAddress = boltAdvertisedAddress
            self.transactionIdleTimeout = transactionIdleTimeout
            self.idleConnectionTimeout = idleConnectionTimeout
            self.maxRequestBodyBytes = maxRequestBodyBytes
            self.maxOpenTransactions = maxOpenTransactions
            self.workerThreads = workerThreads
            self.haStatusAuthEnabled = haStatusAuthEnabled
            self.edition = edition
            self.tlsContext = tlsContext
            self.requestLog = requestLog
        }
    }

    private struct State {
        var serverChannel: Channel?
        var connections: [ObjectIdentifier: Channel] = [:]
        var sweep: RepeatedTask?
        var stopped = false
    }

    public let configuration: Configuration
    private let responder: APIResponder
    private let group: EventLoopGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let state = Mutex(State())

    public init(
        configuration: Configuration, service: DatabaseService, haStatus: HAStatusProvider?, logger: Logger,
        eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        precondition(configuration.workerThreads > 0, "HTTP worker threads must be positive")
        precondition(configuration.maxRequestBodyBytes > 0, "HTTP request body limit must be positive")
        self.configuration = configuration
        self.responder = APIResponder(
            configuration: configuration, service: service, haStatus: haStatus, logger: logger)
        self.group = eventLoopGroup
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.workerThreads)
        self.logger = logger
    }

    /// The port actually bound (useful with port 0), nil before `start()` or after `stop()`.
    public var localPort: Int? {
        state.withLock { $0.serverChannel?.localAddress?.port }
    }

    /// Number of explicit HTTP transactions currently open.
    public var openTransactionCount: Int { responder.registry.count }

    /// Binds and starts serving; returns once the socket accepts connections. Throws if the address is taken.
    public func start() throws {
        threadPool.start()
        let responder = self.responder
        let threadPool = self.threadPool
        let configuration = self.configuration
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                self.track(channel)
                do {
                    if let tls = configuration.tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(readTimeout: Self.timeAmount(configuration.idleConnectionTimeout)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionHandler(
                            responder: responder, threadPool: threadPool,
                            maxBodyBytes: configuration.maxRequestBodyBytes, requestLog: configuration.requestLog))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        } catch {
            try? threadPool.syncShutdownGracefully()
            throw error
        }
        // Sweep often enough that a transaction outlives its timeout by at most a quarter of it.
        let quarter = configuration.transactionIdleTimeout / 4
        let interval = min(max(quarter, .milliseconds(10)), .seconds(1))
        let intervalAmount = Self.timeAmount(interval)
        let sweep = channel.eventLoop.scheduleRepeatedTask(initialDelay: intervalAmount, delay: intervalAmount) {
            _ in
            _ = threadPool.runIfActive(eventLoop: channel.eventLoop) { responder.expireIdleTransactions() }
        }
        state.withLock {
            $0.serverChannel = channel
            $0.sweep = sweep
        }
        logger.info(
            "HTTP API listening",
            metadata: [
                "address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                "tls": "\(configuration.tlsEnabled)",
            ])
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func track(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.connections[id] = channel
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }

    /// Stops accepting, closes connections, lets running requests finish, and rolls back open transactions.
    public func stop() {
        let (server, connections, sweep) = state.withLock { state in
            state.stopped = true
            defer {
                state.serverChannel = nil
                state.sweep = nil
            }
            return (state.serverChannel, Array(state.connections.values), state.sweep)
        }
        sweep?.cancel()
        try? server?.close().wait()
        for connection in connections { try? connection.close().wait() }
        try? threadPool.syncShutdownGracefully()
        for transaction in responder.registry.removeAllIdle() { transaction.abandon() }
        logger.info("HTTP API stopped")
    }
}

/// Reads one request at a time (NIO's pipelining handler holds back the next until this one is answered),
/// runs it on the thread pool, and writes the response.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, [UInt8])
        /// The request was refused (too large); the rest of it is dropped and the connection closes.
        case discarding
        case responding
    }

    private var state = State.idle
    private let responder: APIResponder
    private let threadPool: NIOThreadPool
    private let maxBodyBytes: Int
    private let requestLog: (@Sendable (String) -> Void)?

    init(
        responder: APIResponder, threadPool: NIOThreadPool, maxBodyBytes: Int,
        requestLog: (@Sendable (String) -> Void)?
    ) {
        self.responder = responder
        self.threadPool = threadPool
        self.maxBodyBytes = maxBodyBytes
        self.requestLog = requestLog
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > maxBodyBytes {
                refuseTooLarge(context: context, head: head)
                return
            }
            if head.headers.first(name: "Expect")?.lowercased() == "100-continue" {
                let interim = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
            state = .receiving(head, [])
        case .body(var buffer):
            guard case .receiving(let head, var body) = state else { return }
            state = .idle  // drop the array's second reference so the append does not copy
            if body.count + buffer.readableBytes > maxBodyBytes {
                refuseTooLarge(context: context, head: head)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
            state = .receiving(head, body)
        case .end:
            switch state {
            case .receiving(let head, let body):
                state = .responding
                dispatch(context: context, head: head, body: body)
            case .discarding, .idle, .responding:
                break
            }
        }
    }

    private func refuseTooLarge(context: ChannelHandlerContext, head: HTTPRequestHead) {
        state = .discarding
        let response = APIResponse.errors(
            .payloadTooLarge,
            [DatabaseError(.invalidFormat, "Request body larger than \(maxBodyBytes) bytes.")])
        write(response, for: head, context: context, started: .now, forceClose: true)
    }

    private func dispatch(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        let started = ContinuousClock.now
        let request = APIRequest(method: head.method, uri: head.uri, headers: head.headers, body: body)
        let responder = self.responder
        let sink = ChannelResponseSink(context: context, handler: self, requestHead: head)
        // Taken now: once the client has closed, the channel no longer knows its peer.
        let remote = context.channel.remoteAddress
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        threadPool.runIfActive(eventLoop: context.eventLoop) { responder.respond(to: request, sink: sink) }
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let user):
                    handler.log(
                        head: head, status: sink.status, bytes: sink.bodyBytes, user: user, started: started,
                        remote: remote)
                    // The sink wrote the response; it says whether the connection can be reused.
                    if !sink.keepAlive { context.close(promise: nil) }
                case .failure:
                    handler.state = .idle
                    let response = APIResponse.errors(
                        .serviceUnavailable, [DatabaseError(.databaseUnavailable, "The server is shutting down.")])
                    handler.write(response, for: head, context: context, started: started, forceClose: true)
                }
            }
    }

    /// Called on the event loop just before a response's end is written. NIO's pipelining handler may hand
    /// over the next request as soon as the end goes out, so the handler must be ready for it by then.
    func responseEnding() {
        state = .idle
    }

    private func log(
        head: HTTPRequestHead, status: UInt, bytes: Int, user: String?, started: ContinuousClock.Instant,
        remote: SocketAddress?
    ) {
        guard let requestLog else { return }
        let elapsed = ContinuousClock.now - started
        requestLog(
            RequestLogLine.format(
                remote: remote, user: user, head: head, status: status, bytes: bytes,
                milliseconds: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000,
                epochSeconds: wallClockEpochSeconds()))
    }

    private func write(
        _ response: APIResponse, for head: HTTPRequestHead, context: ChannelHandlerContext,
        started: ContinuousClock.Instant, forceClose: Bool
    ) {
        let keepAlive = head.isKeepAlive && !forceClose
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if head.version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD, !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
        log(head: head, status: response.status.code, bytes: response.body.count, user: response.logUser,
            started: started, remote: context.channel.remoteAddress)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // Only a connection between requests is idle; a long response keeps it open.
            if case .idle = state { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// The connection went away (or the write failed) while a response was being sent.
struct ResponseSinkError: Error, CustomStringConvertible {
    var description: String
}

/// Writes a response to the connection from a worker thread. Each call hops to the event loop and waits until
/// the bytes are flushed to the socket, so a streamed result advances at the client's pace and holds at most
/// one chunk in memory. Used by one worker at a time, for one request.
final class ChannelResponseSink: ResponseSink, @unchecked Sendable {
    private let context: NIOLoopBound<ChannelHandlerContext>
    private let handler: NIOLoopBound<HTTPConnectionHandler>
    private let eventLoop: EventLoop
    private let requestHead: HTTPRequestHead
    private(set) var status: UInt = 0
    private(set) var bodyBytes = 0
    private(set) var keepAlive: Bool

    init(context: ChannelHandlerContext, handler: HTTPConnectionHandler, requestHead: HTTPRequestHead) {
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.handler = NIOLoopBound(handler, eventLoop: context.eventLoop)
        self.eventLoop = context.eventLoop
        self.requestHead = requestHead
        self.keepAlive = requestHead.isKeepAlive
    }

    private func perform(_ parts: [HTTPServerResponsePart]) throws {
        let context = self.context
        let handler = self.handler
        do {
            try eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                let context = context.value
                if case .end = parts.last! { handler.value.responseEnding() }
                for part in parts.dropLast() { context.write(NIOAny(part), promise: nil) }
                return context.writeAndFlush(NIOAny(parts.last!))
            }.wait()
        } catch {
            keepAlive = false
            throw ResponseSinkError(description: "writing the response failed: \(error)")
        }
    }

    private func head(_ status: HTTPResponseStatus, _ headers: HTTPHeaders) -> HTTPServerResponsePart {
        var headers = headers
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if requestHead.version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        self.status = status.code
        return .head(HTTPResponseHead(version: requestHead.version, status: status, headers: headers))
    }

    func send(_ response: APIResponse) throws {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        var parts = [head(response.status, headers)]
        if requestHead.method != .HEAD, !response.body.isEmpty {
            parts.append(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        parts.append(.end(nil))
        bodyBytes = response.body.count
        try perform(parts)
    }

    func startStream(status: HTTPResponseStatus, headers: HTTPHeaders) throws {
        var headers = headers
        headers.remove(name: "Content-Length")
        // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
        if requestHead.version == .http1_0 { keepAlive = false }
        try perform([head(status, headers)])
    }

    func writeChunk(_ bytes: [UInt8]) throws {
        bodyBytes += bytes.count
        try perform([.body(.byteBuffer(ByteBuffer(bytes: bytes)))])
    }

    func finishStream() throws {
        try perform([.end(nil)])
    }
}

/// NCSA combined log format plus the response time in milliseconds, as Neo4j's `http.log` writes it:
/// `host - user [time] "request" status bytes "referer" "user-agent" ms`.
enum RequestLogLine {
    static func format(
        remote: SocketAddress?, user: String?, head: HTTPRequestHead, status: UInt, bytes: Int, milliseconds: Int64,
        epochSeconds: Int64
    ) -> String {
        let host = remote?.ipAddress ?? "-"
        let request = "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)"
        let referer = head.headers.first(name: "Referer") ?? "-"
        let agent = head.headers.first(name: "User-Agent") ?? "-"
        let user = user.flatMap { $0.isEmpty ? nil : $0 } ?? "-"
        return "\(host) - \(quoteSafe(user)) [\(HTTPDate.ncsa(epochSeconds: epochSeconds))] "
            + "\"\(quoteSafe(request))\" \(status) \(bytes) \"\(quoteSafe(referer))\" \"\(quoteSafe(agent))\" "
            + "\(milliseconds)"
    }

    /// Keeps one request on one line and its quoted fields parseable.
    static func quoteSafe(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\x\(String(scalar.value, radix: 16))"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

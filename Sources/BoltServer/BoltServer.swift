// BoltServer: the SwiftNIO shell around BoltCore. `BoltServer` listens; per connection, `BoltChannelHandler`
// (on the event loop) does the handshake and de-chunking, and `BoltConnection` (on its own serial queue, since
// database calls block) runs the state machine, calls the `DatabaseService` and encodes the replies.
import BoltCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TrellisService

/// `dbms.connector.bolt.tls_level`.
public enum BoltTLSLevel: String, Sendable, Hashable {
    /// Plain connections only.
    case disabled = "DISABLED"
    /// TLS or plain: the first byte of the connection decides (a TLS ClientHello starts with 0x16, Bolt with 0x60).
    case optional = "OPTIONAL"
    /// TLS only.
    case required = "REQUIRED"
}

/// Settings of the Bolt connector.
public struct BoltServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `BoltServer.port` reports it.
    public var port: Int
    public var tlsLevel: BoltTLSLevel
    /// PEM certificate (chain) and private key, needed unless `tlsLevel` is `.disabled`.
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// A message larger than this gets FAILURE and the connection is closed.
    public var maxMessageBytes: Int
    /// Deepest nesting of lists/maps/structures accepted from clients.
    public var maxNestingDepth: Int
    /// Connections beyond this are closed at once.
    public var maxConnections: Int
    /// A client that has not finished the handshake and authentication in this time is disconnected.
    public var handshakeTimeout: TimeAmount
    /// A connection that sends nothing for this long while no work is running is closed (nil: never).
    public var idleTimeout: TimeAmount?
    /// Announced as the `connection.recv_timeout_seconds` hint when set (the driver then expects traffic at
    /// least that often).
    public var receiveTimeoutHintSeconds: Int?
    /// Announce `telemetry.enabled` so drivers send TELEMETRY.
    public var telemetryEnabled: Bool
    /// Event loop threads (0: one per core).
    public var eventLoopThreads: Int
    /// Versions offered in the handshake.
    public var versions: [BoltVersion]
    /// Answer a pipelined auto-commit RUN + PULL of a cached read-only plan on the event loop, inside
    /// `eventLoopReadBudget` (`BoltConnection.answerOnEventLoop`); false: every statement goes to the
    /// connection's worker queue.
    public var eventLoopReads: Bool = true
    /// Also run a pipelined auto-commit RUN + PULL of a cached plan that writes the graph on the event loop when
    /// the database commits locally and no lock is held by another transaction; its durable commit then blocks
    /// the loop for about one log sync (`DatabaseSession.runBoundedStatement`). false: writes go to the worker.
    public var eventLoopWrites: Bool = true
    /// The kernel time-out of a statement answered on the event loop; one that needs longer is rolled back and
    /// runs on the worker queue instead (and is not tried on the loop again soon by that connection).
    public var eventLoopReadBudget: Duration = .milliseconds(2)

    public init(
        host: String = "127.0.0.1", port: Int = 7687, tlsLevel: BoltTLSLevel = .disabled,
        certificatePath: String? = nil, privateKeyPath: String? = nil, maxMessageBytes: Int = 64 << 20,
        maxNestingDepth: Int = 64, maxConnections: Int = 1000, handshakeTimeout: TimeAmount = .seconds(30),
        idleTimeout: TimeAmount? = nil, receiveTimeoutHintSeconds: Int? = nil, telemetryEnabled: Bool = false,
        eventLoopThreads: Int = 0, versions: [BoltVersion] = BoltHandshake.defaultVersions
    ) {
        self.host = host
        self.port = port
        self.tlsLevel = tlsLevel
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.maxMessageBytes = maxMessageBytes
        self.maxNestingDepth = maxNestingDepth
        self.maxConnections = maxConnections
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.receiveTimeoutHintSeconds = receiveTimeoutHintSeconds
        self.telemetryEnabled = telemetryEnabled
        self.eventLoopThreads = eventLoopThreads
        self.versions = versions
    }
}

/// The Bolt connector: listens, accepts, and serves each connection until it closes or the server stops.
public final class BoltServer: Sendable {
    public let configuration: BoltServerConfiguration
    let service: any DatabaseService
    let logger: Logger
    let shared: BoltServerShared
    let state = Mutex<(group: MultiThreadedEventLoopGroup?, channel: Channel?)>((nil, nil))

    public init(configuration: BoltServerConfiguration, service: any DatabaseService, logger: Logger) {
        self.configuration = configuration
        self.service = service
        self.logger = logger
        self.shared = BoltServerShared(configuration: configuration, service: service, logger: logger)
    }

    /// The address actually bound (with the real port when 0 was asked), once started.
    public var localAddress: SocketAddress? {
        state.withLock { $0.channel?.localAddress }
    }

    /// The port actually bound, once started.
    public var port: Int? { localAddress?.port }

    /// Connection and message counters (`neo4j.bolt.*` metrics).
    public var metrics: BoltMetrics { shared.metrics }

    /// Number of open Bolt connections.
    public var connectionCount: Int { shared.connections.load(ordering: .relaxed) }

    /// Binds and starts accepting. Throws if the address is in use or the TLS files cannot be loaded.
    public func start() async throws {
        let sslContext: NIOSSLContext?
        if configuration.tlsLevel != .disabled {
            guard let certPath = configuration.certificatePath, let keyPath = configuration.privateKeyPath else {
                throw BoltServerError("tls_level \(configuration.tlsLevel.rawValue) needs a certificate and a key")
            }
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certPath)
                let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
                let tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
                sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw BoltServerError("cannot load the Bolt TLS certificate \(certPath) / key \(keyPath): \(error)")
            }
        } else {
            sslContext = nil
        }
        let threads = configuration.eventLoopThreads > 0 ? configuration.eventLoopThreads : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let shared = self.shared
        let tlsLevel = configuration.tlsLevel
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initializeChild(channel, shared: shared, tlsLevel: tlsLevel, sslContext: sslContext)
                }
            }
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            state.withLock { $0 = (group, channel) }
            logger.info("Bolt enabled", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
                "tls_level": "\(tlsLevel.rawValue)"])
        } catch {
            try? await group.shutdownGracefully()
            throw BoltServerError(
                "cannot listen for Bolt on \(configuration.host):\(configuration.port): \(error)")
        }
    }

    static func initializeChild(
        _ channel: Channel, shared: BoltServerShared, tlsLevel: BoltTLSLevel, sslContext: NIOSSLContext?
    ) throws {
        let ops = channel.pipeline.syncOperations
        switch tlsLevel {
        case .disabled:
            break
        case .required:
            try ops.addHandler(NIOSSLServerHandler(context: sslContext!))
        case .optional:
            try ops.addHandler(TLSDetectionHandler(sslContext: sslContext!))
        }
        try ops.addHandler(BoltChannelHandler(shared: shared))
    }

    /// Stops accepting, closes every connection (rolling back their open transactions) and releases the threads.
    public func stop() async {
        let (group, channel) = state.withLock { s in
            let current = s
            s = (nil, nil)
            return current
        }
        try? await channel?.close()
        shared.closeAll()
        // Let each connection roll back and release its session (on its own queue) before the event loops go:
        // they are needed to deliver the last writes and closes. A database call that ignores the interrupt is
        // not waited for beyond a few seconds.
        for _ in 0..<500 where shared.liveConnections.load(ordering: .acquiring) > 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        try? await group?.shutdownGracefully()
    }
}

/// A Bolt connector start-up failure.
public struct BoltServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// State shared by all connections of one server.
final class BoltServerShared: Sendable {
    let configuration: BoltServerConfiguration
    let service: any DatabaseService
    let logger: Logger
    let connections = Atomic<Int>(0)
    /// Connections whose database side has not been cleaned up yet.
    let liveConnections = Atomic<Int>(0)
    let nextConnectionID = Atomic<Int>(0)
    let metrics = BoltMetrics()
    let open = Mutex<[ObjectIdentifier: Channel]>([:])
    /// Tests on an `EmbeddedChannel` run database calls inline on the (single) test thread.
    let inlineExecution: Bool

    init(
        configuration: BoltServerConfiguration, service: any DatabaseService, logger: Logger,
        inlineExecution: Bool = false
    ) {
        self.configuration = configuration
        self.service = service
        self.logger = logger
        self.inlineExecution = inlineExecution
    }

    /// Admits a connection unless the limit is reached.
    func admit(_ channel: Channel) -> Bool {
        let count = connections.add(1, ordering: .relaxed).newValue
        guard count <= configuration.maxConnections else {
            connections.subtract(1, ordering: .relaxed)
            return false
        }
        open.withLock { $0[ObjectIdentifier(channel)] = channel }
        metrics.opened.add(1, ordering: .relaxed)
        return true
    }

    func release(_ channel: Channel) {
        let removed = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        if removed != nil {
            connections.subtract(1, ordering: .relaxed)
            metrics.closed.add(1, ordering: .relaxed)
        }
    }

    func closeAll() {
        let channels = open.withLock { Array($0.values) }
        for channel in channels {
            channel.close(promise: nil)
        }
    }

    func makeConnectionID() -> String {
        "bolt-\(nextConnectionID.add(1, ordering: .relaxed).newValue)"
    }
}

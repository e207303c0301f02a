import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Prometheus text exposition (format 0.0.4) of a set of samples: names with every character Prometheus does not
/// allow (Neo4j's `.` above all) written `_`, each family typed `counter` or `gauge`.
///
/// Written here rather than taken from swift-prometheus: the registry already holds the values (sampled from the
/// subsystems' own atomics), so all that is needed is this formatting, a few lines; swift-prometheus would add a
/// second registry to keep in step and a package dependency.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ samples: [MetricSample]) -> String {
        var out = ""
        out.reserveCapacity(samples.count * 96)
        for sample in samples {
            let name = metricName(sample.name)
            out += "# HELP \(name) \(sample.name)\n"
            out += "# TYPE \(name) \(sample.kind.rawValue)\n"
            out += "\(name) \(sample.formattedValue)\n"
        }
        return out
    }

    /// `neo4j.bolt.messages_received` → `neo4j_bolt_messages_received`; a leading digit gets a `_` in front.
    public static func metricName(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ":": out.unicodeScalars.append(scalar)
            default: out.append("_")
            }
        }
        if let first = out.unicodeScalars.first, ("0"..."9").contains(first) { out = "_" + out }
        return out
    }
}

/// Serves the registry for Prometheus scraping (`metrics.prometheus.endpoint`): `GET /metrics` (and `GET /`, as
/// Neo4j's endpoint answers there too) return the current values; other paths 404, other methods 405. Runs on its
/// own event loop thread, so a scrape never waits for, or holds up, database work.
public final class PrometheusEndpoint: Sendable {
    let registry: MetricsRegistry
    let logger: Logger
    private let state = Mutex<(group: MultiThreadedEventLoopGroup?, channel: (any Channel)?)>((nil, nil))

    public init(registry: MetricsRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Binds `host:port` (port 0 picks a free one; see `port`).
    public func start(host: String, port: Int) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let registry = self.registry
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(PrometheusHandler(registry: registry))
                }
            }
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            state.withLock { $0 = (group, channel) }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// The port bound, once started.
    public var port: Int? { state.withLock { $0.channel?.localAddress?.port } }

    public func stop() {
        let (group, channel) = state.withLock { s in
            defer { s = (nil, nil) }
            return s
        }
        try? channel?.close().wait()
        try? group?.syncShutdownGracefully()
    }
}

final class PrometheusHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: MetricsRegistry
    var head: HTTPRequestHead?

    init(registry: MetricsRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break  // a scrape has no body; anything sent is ignored
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    func respond(context: ChannelHandlerContext, to head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let status: HTTPResponseStatus
        var body: String
        var contentType = "text/plain; charset=utf-8"
        if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = "Only GET is supported.\n"
        } else if path == "/metrics" || path == "/" {
            status = .ok
            body = PrometheusText.render(registry.collect())
            contentType = PrometheusText.contentType
        } else {
            status = .notFound
            body = "Metrics are served at /metrics.\n"
        }
        let bytes = context.channel.allocator.buffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(bytes.readableBytes))
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        var responseHead = HTTPResponseHead(version: head.version, status: status, headers: headers)
        responseHead.headers.replaceOrAdd(name: "Content-Length", value: String(bytes.readableBytes))
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

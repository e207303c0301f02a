import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Sends metrics to Graphite's plaintext protocol over TCP (`metrics.graphite.*`): one line
/// `<prefix>.<name> <value> <epoch seconds>` per metric and report.
///
/// Never blocks its caller: `report` hands the batch to the event loop and returns. While there is no connection
/// the reporter connects (bounded by a connect timeout) and sends the latest batch once connected; batches that come
/// while a connection attempt is running replace the waiting one, and a batch finding the connection unwritable
/// (Graphite not reading) is dropped, so memory stays bounded when Graphite is slow or down. A lost connection is
/// reopened at the next report. Outages are logged once, not per report.
public final class GraphiteReporter: Sendable {
    public let host: String
    public let port: Int
    public let prefix: String
    let logger: Logger
    let loop: any EventLoop
    static let connectTimeout = TimeAmount.seconds(2)

    private struct State {
        var channel: (any Channel)?
        var connecting = false
        var waiting: String?
        var failing = false
        var stopped = false
    }
    private let state = Mutex(State())

    public init(host: String, port: Int, prefix: String, loop: any EventLoop, logger: Logger) {
        self.host = host
        self.port = port
        self.prefix = prefix
        self.loop = loop
        self.logger = logger
    }

    /// The plaintext lines for `samples`.
    public static func lines(_ samples: [MetricSample], prefix: String, epochSeconds: Int64) -> String {
        var out = ""
        let head = prefix.isEmpty ? "" : prefix + "."
        for sample in samples {
            out += "\(head)\(sample.name) \(sample.formattedValue) \(epochSeconds)\n"
        }
        return out
    }

    public func report(_ samples: [MetricSample], epochSeconds: Int64) {
        let text = Self.lines(samples, prefix: prefix, epochSeconds: epochSeconds)
        let action: (channel: (any Channel)?, connect: Bool) = state.withLock { s in
            guard !s.stopped else { return (nil, false) }
            if let channel = s.channel { return (channel, false) }
            s.waiting = text
            if s.connecting { return (nil, false) }
            s.connecting = true
            return (nil, true)
        }
        if let channel = action.channel {
            send(text, on: channel)
        } else if action.connect {
            connect()
        }
    }

    private func send(_ text: String, on channel: any Channel) {
        guard channel.isWritable else {
            logger.debug("Graphite is not reading; metrics report dropped", metadata: ["server": "\(host):\(port)"])
            return
        }
        channel.writeAndFlush(channel.allocator.buffer(string: text)).whenFailure { [weak self] error in
            self?.lost(channel, error)
        }
    }

    private func connect() {
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(Self.connectTimeout)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { [self] channel in
                // Held until the channel closes, which `stop` makes happen.
                channel.closeFuture.whenComplete { _ in self.lost(channel, nil) }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
        bootstrap.connect(host: host, port: port).whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let channel):
                let (waiting, wasFailing, stopped): (String?, Bool, Bool) = self.state.withLock { s in
                    s.connecting = false
                    if !s.stopped { s.channel = channel }
                    defer { s.waiting = nil; s.failing = false }
                    return (s.waiting, s.failing, s.stopped)
                }
                if stopped {
                    channel.close(promise: nil)
                    return
                }
                if wasFailing { self.logger.info("Reconnected to Graphite", metadata: ["server": "\(self.host):\(self.port)"]) }
                if let waiting { self.send(waiting, on: channel) }
            case .failure(let error):
                let firstFailure: Bool = self.state.withLock { s in
                    s.connecting = false
                    s.waiting = nil
                    defer { s.failing = true }
                    return !s.failing
                }
                if firstFailure {
                    self.logger.warning(
                        "Cannot send metrics to Graphite; retrying at every report",
                        metadata: ["server": "\(self.host):\(self.port)", "error": "\(error)"])
                }
            }
        }
    }

    private func lost(_ channel: any Channel, _ error: (any Error)?) {
        let wasCurrent: Bool = state.withLock { s in
            guard let current = s.channel, current === channel else { return false }
            s.channel = nil
            s.failing = true
            return true
        }
        channel.close(promise: nil)
        if wasCurrent {
            logger.warning(
                "Lost the Graphite connection; reconnecting at the next report",
                metadata: ["server": "\(host):\(port)", "error": "\(error.map { "\($0)" } ?? "closed by peer")"])
        }
    }

    /// Closes the connection; later reports do nothing.
    public func stop() {
        let channel: (any Channel)? = state.withLock { s in
            s.stopped = true
            defer { s.channel = nil }
            return s.channel
        }
        try? channel?.close().wait()
    }
}

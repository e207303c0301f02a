import BoltCore
import GraphValues
import Logging
import NIOCore

/// The event-loop side of one Bolt connection: admission, handshake, de-chunking, inbound back-pressure and
/// time-outs. Everything past de-chunking happens in `BoltConnection`, off the event loop.
final class BoltChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let shared: BoltServerShared
    var handshake: BoltHandshake
    var chunks: BoltChunkDecoder
    var cumulation: ByteBuffer?
    var connection: BoltConnection?
    var context: ChannelHandlerContext?
    var admitted = false
    /// No more input is decoded (oversized message or rejected handshake; the connection is closing).
    var inputClosed = false
    /// A `read` held back because the connection's inbox is full.
    var readHeld = false
    var handshakeTimer: Scheduled<Void>?
    var idleTimer: Scheduled<Void>?
    var lastInbound = NIODeadline.now()

    init(shared: BoltServerShared) {
        self.shared = shared
        self.handshake = BoltHandshake(supported: shared.configuration.versions)
        self.chunks = BoltChunkDecoder(maxMessageBytes: shared.configuration.maxMessageBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activate(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context: context)
        context.fireChannelActive()
    }

    func activate(context: ChannelHandlerContext) {
        guard !admitted else { return }
        guard shared.admit(context.channel) else {
            shared.logger.warning("Bolt connection refused: limit reached",
                metadata: ["limit": "\(shared.configuration.maxConnections)"])
            inputClosed = true
            context.close(promise: nil)
            return
        }
        admitted = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        // Until the handshake and authentication are done, a silent client is dropped.
        handshakeTimer = context.eventLoop.scheduleTask(in: shared.configuration.handshakeTimeout) {
            let handler = loopBound.value
            guard !(handler.connection?.isAuthenticated ?? false) else { return }
            handler.shared.logger.debug("Bolt connection closed: handshake/authentication timed out")
            handler.context?.close(promise: nil)
        }
        if let idle = shared.configuration.idleTimeout {
            scheduleIdleCheck(after: idle, loopBound: loopBound)
        }
    }

    func scheduleIdleCheck(after delay: TimeAmount, loopBound: NIOLoopBound<BoltChannelHandler>) {
        guard let context else { return }
        idleTimer = context.eventLoop.scheduleTask(in: delay) {
            let handler = loopBound.value
            guard let idle = handler.shared.configuration.idleTimeout, let context = handler.context else { return }
            let quietFor = NIODeadline.now() - handler.lastInbound
            if quietFor >= idle && !(handler.connection?.isBusy ?? false) {
                handler.shared.logger.debug("Bolt connection closed: idle")
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(after: max(idle - quietFor, .milliseconds(10)), loopBound: loopBound)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        idleTimer?.cancel()
        inputClosed = true
        connection?.channelClosed()
        if admitted { shared.release(context.channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        shared.logger.debug("Bolt connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !inputClosed else { return }
        var buffer = unwrapInboundIn(data)
        lastInbound = .now()
        if cumulation == nil {
            cumulation = buffer
        } else {
            cumulation!.writeBuffer(&buffer)
        }
        process(context: context)
        if let c = cumulation, c.readableBytes == 0 {
            cumulation = nil
        } else if cumulation != nil, cumulation!.readerIndex > 65_536 {
            cumulation!.discardReadBytes()
        }
    }

    func process(context: ChannelHandlerContext) {
        if connection == nil {
            negotiate(context: context)
        }
        guard let connection, cumulation != nil else { return }
        connection.beginBatch()
        defer { connection.endBatch() }
        // A RUN is held back until the next message is known: a RUN + PULL pair that arrived together (drivers
        // pipeline them in one write) may be answered right here (`answerOnEventLoop`).
        var heldRun: ByteBuffer?
        do {
            while let body = try chunks.next(from: &cumulation!) {
                if let run = heldRun {
                    heldRun = nil
                    switch connection.answerOnEventLoop(run: run, pull: body) {
                    case .answered:
                        break
                    case .declined:
                        connection.enqueue(run)
                        connection.enqueue(body)
                    case .decoded(let runRequest, let pullRequest):
                        connection.enqueue(decoded: runRequest)
                        connection.enqueue(decoded: pullRequest)
                    }
                } else if BoltRequestDecoder.peekTag(body) == BoltConnection.runTag
                    && (shared.configuration.eventLoopReads || shared.configuration.eventLoopWrites)
                {
                    heldRun = body
                } else {
                    connection.enqueue(body)
                }
            }
            if let run = heldRun { connection.enqueue(run) }
        } catch {
            if let run = heldRun { connection.enqueue(run) }
            // Oversized message: answer in order, then close; nothing after it is read.
            inputClosed = true
            cumulation = nil
            connection.enqueueTooLarge(limitBytes: shared.configuration.maxMessageBytes)
        }
    }

    /// Feeds the handshake; creates the connection once a version is agreed.
    func negotiate(context: ChannelHandlerContext) {
        guard var buffer = cumulation else { return }
        defer { cumulation = buffer }
        while connection == nil {
            switch handshake.feed(&buffer) {
            case .needMoreBytes:
                return
            case .sendAndWait(let reply):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)),
                    promise: nil)
            case .completed(let reply, let version, let viaManifest):
                if !reply.isEmpty {
                    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)),
                        promise: nil)
                }
                connection = BoltConnection(
                    shared: shared, channel: context.channel, version: version, viaManifest: viaManifest,
                    handler: NIOLoopBound(self, eventLoop: context.eventLoop))
            case .reject(let reply, let reason):
                shared.logger.debug("Bolt handshake rejected", metadata: ["reason": "\(reason)"])
                inputClosed = true
                buffer.clear()
                if reply.isEmpty {
                    context.close(promise: nil)
                } else {
                    let closing = context.channel
                    context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)))
                        .whenComplete { _ in closing.close(promise: nil) }
                }
                return
            }
        }
    }

    // MARK: - Back-pressure

    func read(context: ChannelHandlerContext) {
        if let connection, connection.isBacklogged {
            readHeld = true
            return
        }
        context.read()
    }

    /// Called by the connection once its inbox has drained.
    func resumeReading() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }
}

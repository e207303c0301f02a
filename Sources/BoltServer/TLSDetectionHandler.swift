import NIOCore
import NIOSSL

/// For `tls_level=OPTIONAL`: looks at the first byte of the connection. A TLS record starts with 0x16
/// (handshake); the Bolt magic starts with 0x60. On TLS it puts a `NIOSSLServerHandler` in its place, otherwise it
/// just steps aside. Either way the bytes it saw are passed on unchanged.
final class TLSDetectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let sslContext: NIOSSLContext
    var decided = false

    init(sslContext: NIOSSLContext) {
        self.sslContext = sslContext
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        decided = true
        if first == 0x16 {
            do {
                try context.pipeline.syncOperations.addHandler(
                    NIOSSLServerHandler(context: sslContext), position: .after(self))
            } catch {
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

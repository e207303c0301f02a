import NIOCore

/// Reassembles Bolt messages from chunks (bolt.md §2): `u16 size` + bytes, repeated, ended by `00 00`.
/// A bare `00 00` between messages is a NOOP and skipped. A message that grows past `maxMessageBytes` is refused
/// before it is buffered whole.
public struct BoltChunkDecoder: Sendable {
    public enum Error: Swift.Error, Equatable, Sendable {
        case messageTooLarge(limitBytes: Int)
    }

    public let maxMessageBytes: Int
    var message: ByteBuffer?

    public init(maxMessageBytes: Int) {
        precondition(maxMessageBytes > 0, "maxMessageBytes must be positive")
        self.maxMessageBytes = maxMessageBytes
    }

    /// Returns the next complete message body, consuming its chunks from `buffer`, or nil when more bytes are
    /// needed. Chunks of a message in progress are consumed and kept.
    public mutating func next(from buffer: inout ByteBuffer) throws -> ByteBuffer? {
        while let size = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) {
            if size == 0 {
                buffer.moveReaderIndex(forwardBy: 2)
                if let done = message {
                    message = nil
                    return done
                }
                continue  // NOOP keep-alive
            }
            guard buffer.readableBytes >= 2 + Int(size) else { return nil }
            let current = message?.readableBytes ?? 0
            guard current + Int(size) <= maxMessageBytes else {
                throw Error.messageTooLarge(limitBytes: maxMessageBytes)
            }
            buffer.moveReaderIndex(forwardBy: 2)
            let chunk = buffer.readSlice(length: Int(size))!
            if message == nil {
                // The common single-chunk message: keep the slice (no copy); copy only to join chunks.
                message = chunk
            } else {
                message!.writeImmutableBuffer(chunk)
            }
        }
        return nil
    }

    /// True when part of a message has been received but not its end marker.
    public var hasPartialMessage: Bool { message != nil }
}

/// Frames messages into chunks in place: write the body after `beginMessage`, then `endMessage` inserts the
/// chunk headers. Messages up to 65535 bytes (nearly all) cost one 2-byte header and no copy.
public enum BoltChunkEncoder {
    public static let maxChunkBytes = 65_535

    /// Reserves the first chunk header; returns the index to hand to `endMessage`.
    @inlinable
    public static func beginMessage(_ buffer: inout ByteBuffer) -> Int {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        return start
    }

    /// Fills in chunk headers for the body written since `beginMessage` and appends the `00 00` end marker.
    public static func endMessage(_ buffer: inout ByteBuffer, start: Int) {
        let bodyStart = start + 2
        let bodyLength = buffer.writerIndex - bodyStart
        if bodyLength <= maxChunkBytes {
            buffer.setInteger(UInt16(bodyLength), at: start)
        } else {
            // Rare: re-chunk a big body. Copy it out, then write it back in 65535-byte chunks.
            let body = buffer.getSlice(at: bodyStart, length: bodyLength)!
            buffer.moveWriterIndex(to: start)
            var rest = body
            while rest.readableBytes > 0 {
                let n = min(maxChunkBytes, rest.readableBytes)
                buffer.writeInteger(UInt16(n))
                var part = rest.readSlice(length: n)!
                buffer.writeBuffer(&part)
            }
        }
        buffer.writeInteger(UInt16(0))
    }
}

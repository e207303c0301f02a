import ClusterCore
import NIOCore

// Coordination wire format (ha.host.coordination), version 1. Every frame:
//
//     UInt32 length      bytes after this field (version + type + payload), 2 ... maximumFrameLength
//     UInt8  version     `CoordinationWire.version`; anything else is refused
//     UInt8  type        `FrameType`
//     payload            big-endian integers; strings are UInt16 byte count + UTF-8
//
// A connection starts with a hello from each side. Every length, count and string is bounded so a foreign or
// broken client costs at most one small buffer before it is cut off (STYLE.md: "put a limit on everything").

/// Constants of the coordination protocol.
enum CoordinationWire {
    /// Protocol version; a peer speaking another version is refused (no silent misparse across upgrades).
    static let version: UInt8 = 1
    /// Largest frame accepted: a heartbeat is ~60 bytes plus 8 per suspect, a hello a few hundred.
    static let maximumFrameLength = 64 * 1024
    /// Longest string accepted (cluster name, addresses, refusal reasons).
    static let maximumStringBytes = 1024
    /// Most suspects a heartbeat may list.
    static let maximumSuspects = 1024
}

/// The second byte of a frame.
enum FrameType: UInt8 {
    case hello = 1
    case heartbeat = 2
    case heartbeatAck = 3
    case staleEpoch = 4
    case voteRequest = 5
    case voteResponse = 6
    case refused = 7
    case resign = 8
}

/// What a member says about itself when a connection opens.
struct CoordinationHello: Hashable, Sendable {
    var clusterName: String
    var member: MemberID
    var kind: MemberKind
    /// Random per process start: a restarted member is told apart from a duplicate server id by its address, and
    /// a connection to itself by an equal incarnation.
    var incarnation: UInt64
    var addresses: MemberAddresses
}

/// The role a member reports in its heartbeats (for the cluster overview; the election does not use it).
enum ReportedRole: UInt8, Sendable {
    case unknown = 0
    case master = 1
    case slave = 2
}

/// One decoded frame.
enum CoordinationFrame: Hashable, Sendable {
    case hello(CoordinationHello)
    /// An election message; `role` is only meaningful on heartbeats.
    case message(ClusterMessage, role: ReportedRole)
    /// The peer refuses this connection and will close it; `reason` is for the log.
    case refused(reason: String)
}

/// Why a frame could not be decoded. The connection is closed; nothing else happens.
struct CoordinationWireError: Error, CustomStringConvertible, Hashable {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Encoding

extension CoordinationFrame {
    /// Appends the whole frame, length prefix included.
    func encode(into buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(CoordinationWire.version)
        switch self {
        case .hello(let hello):
            buffer.writeInteger(FrameType.hello.rawValue)
            buffer.writeBoundedString(hello.clusterName)
            buffer.writeInteger(Int64(hello.member.rawValue))
            buffer.writeInteger(hello.kind.wireCode)
            buffer.writeInteger(hello.incarnation)
            buffer.writeBoundedString(hello.addresses.coordination)
            buffer.writeOptionalString(hello.addresses.data)
            buffer.writeOptionalString(hello.addresses.bolt)
            buffer.writeOptionalString(hello.addresses.http)
        case .refused(let reason):
            buffer.writeInteger(FrameType.refused.rawValue)
            buffer.writeBoundedString(reason)
        case .message(let message, let role):
            switch message {
            case .heartbeat(let heartbeat):
                buffer.writeInteger(FrameType.heartbeat.rawValue)
                buffer.writeInteger(heartbeat.epoch.rawValue)
                var flags: UInt8 = 0
                if heartbeat.isMaster { flags |= 1 }
                if heartbeat.mayStand { flags |= 2 }
                buffer.writeInteger(flags)
                buffer.writeInteger(heartbeat.lastCommitted.lastCommittedTx)
                buffer.writeInteger(heartbeat.lastEpoch.rawValue)
                let suspects = heartbeat.suspects.prefix(CoordinationWire.maximumSuspects)
                buffer.writeInteger(UInt16(suspects.count))
                for suspect in suspects { buffer.writeInteger(Int64(suspect.rawValue)) }
                buffer.writeInteger(heartbeat.sentAt.wireNanoseconds)
                buffer.writeInteger(role.rawValue)
            case .heartbeatAck(let epoch, let echoedSentAt):
                buffer.writeInteger(FrameType.heartbeatAck.rawValue)
                buffer.writeInteger(epoch.rawValue)
                buffer.writeInteger(echoedSentAt.wireNanoseconds)
            case .staleEpoch(let current):
                buffer.writeInteger(FrameType.staleEpoch.rawValue)
                buffer.writeInteger(current.rawValue)
            case .voteRequest(let request):
                buffer.writeInteger(FrameType.voteRequest.rawValue)
                buffer.writeInteger(request.epoch.rawValue)
                buffer.writeInteger(Int64(request.credentials.member.rawValue))
                buffer.writeInteger(request.credentials.lastCommitted.lastCommittedTx)
                buffer.writeInteger(request.credentials.lastEpoch.rawValue)
                buffer.writeInteger(UInt8(request.credentials.isCurrentMaster ? 1 : 0))
                buffer.writeInteger(request.sentAt.wireNanoseconds)
            case .voteResponse(let epoch, let granted, let echoedSentAt):
                buffer.writeInteger(FrameType.voteResponse.rawValue)
                buffer.writeInteger(epoch.rawValue)
                buffer.writeInteger(UInt8(granted ? 1 : 0))
                buffer.writeInteger(echoedSentAt.wireNanoseconds)
            case .resign(let epoch):
                buffer.writeInteger(FrameType.resign.rawValue)
                buffer.writeInteger(epoch.rawValue)
            }
        }
        let length = buffer.writerIndex - lengthIndex - 4
        precondition(length <= CoordinationWire.maximumFrameLength, "encoded an oversized frame of \(length) bytes")
        buffer.setInteger(UInt32(length), at: lengthIndex)
    }
}

// MARK: - Decoding

/// Splits the byte stream into frames and parses them; any violation throws, and the handler closes the connection.
struct CoordinationFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = CoordinationFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length >= 2, length <= CoordinationWire.maximumFrameLength else {
            throw CoordinationWireError("frame length \(length) outside 2...\(CoordinationWire.maximumFrameLength)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        var frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(Self.wrapInboundOut(try Self.parse(&frame)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A trailing partial frame at close carries nothing usable; drop it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Parses one frame body (version byte onwards). Exposed for tests.
    static func parse(_ frame: inout ByteBuffer) throws -> CoordinationFrame {
        let version: UInt8 = try frame.readOrThrow()
        guard version == CoordinationWire.version else {
            throw CoordinationWireError("unsupported coordination protocol version \(version) (this server speaks "
                + "\(CoordinationWire.version))")
        }
        let typeCode: UInt8 = try frame.readOrThrow()
        guard let type = FrameType(rawValue: typeCode) else {
            throw CoordinationWireError("unknown frame type \(typeCode)")
        }
        let result: CoordinationFrame
        switch type {
        case .hello:
            let clusterName = try frame.readBoundedString()
            let member = MemberID(Int(try frame.readOrThrow() as Int64))
            let kind = try MemberKind(wireCode: try frame.readOrThrow())
            let incarnation: UInt64 = try frame.readOrThrow()
            let coordination = try frame.readBoundedString()
            let addresses = MemberAddresses(
                coordination: coordination,
                data: try frame.readOptionalString(),
                bolt: try frame.readOptionalString(),
                http: try frame.readOptionalString()
            )
            result = .hello(CoordinationHello(clusterName: clusterName, member: member, kind: kind,
                                              incarnation: incarnation, addresses: addresses))
        case .refused:
            result = .refused(reason: try frame.readBoundedString())
        case .heartbeat:
            let epoch = Epoch(try frame.readOrThrow())
            let flags: UInt8 = try frame.readOrThrow()
            let lastCommitted = LogPosition(lastCommittedTx: try frame.readOrThrow())
            let lastEpoch = Epoch(try frame.readOrThrow())
            let count: UInt16 = try frame.readOrThrow()
            guard Int(count) <= CoordinationWire.maximumSuspects else {
                throw CoordinationWireError("heartbeat lists \(count) suspects")
            }
            var suspects: [MemberID] = []
            suspects.reserveCapacity(Int(count))
            for _ in 0..<count { suspects.append(MemberID(Int(try frame.readOrThrow() as Int64))) }
            let sentAt = Duration(wireNanoseconds: try frame.readOrThrow())
            let roleCode: UInt8 = try frame.readOrThrow()
            let heartbeat = Heartbeat(epoch: epoch, isMaster: flags & 1 != 0, lastCommitted: lastCommitted,
                                      suspects: suspects, sentAt: sentAt, mayStand: flags & 2 != 0,
                                      lastEpoch: lastEpoch)
            result = .message(.heartbeat(heartbeat), role: ReportedRole(rawValue: roleCode) ?? .unknown)
        case .heartbeatAck:
            let epoch = Epoch(try frame.readOrThrow())
            let echoed = Duration(wireNanoseconds: try frame.readOrThrow())
            result = .message(.heartbeatAck(epoch: epoch, echoedSentAt: echoed), role: .unknown)
        case .staleEpoch:
            result = .message(.staleEpoch(current: Epoch(try frame.readOrThrow())), role: .unknown)
        case .voteRequest:
            let epoch = Epoch(try frame.readOrThrow())
            let member = MemberID(Int(try frame.readOrThrow() as Int64))
            let lastCommitted = LogPosition(lastCommittedTx: try frame.readOrThrow())
            let lastEpoch = Epoch(try frame.readOrThrow())
            let isCurrentMaster = try frame.readBool()
            let sentAt = Duration(wireNanoseconds: try frame.readOrThrow())
            let credentials = ElectionCredentials(member: member, lastCommitted: lastCommitted,
                                                  isCurrentMaster: isCurrentMaster, lastEpoch: lastEpoch)
            result = .message(.voteRequest(VoteRequest(epoch: epoch, credentials: credentials, sentAt: sentAt)),
                              role: .unknown)
        case .voteResponse:
            let epoch = Epoch(try frame.readOrThrow())
            let granted = try frame.readBool()
            let echoed = Duration(wireNanoseconds: try frame.readOrThrow())
            result = .message(.voteResponse(epoch: epoch, granted: granted, echoedSentAt: echoed), role: .unknown)
        case .resign:
            result = .message(.resign(epoch: Epoch(try frame.readOrThrow())), role: .unknown)
        }
        guard frame.readableBytes == 0 else {
            throw CoordinationWireError("\(frame.readableBytes) unexpected trailing bytes in a \(type) frame")
        }
        return result
    }
}

// MARK: - Helpers

extension MemberKind {
    fileprivate var wireCode: UInt8 {
        switch self {
        case .data(slaveOnly: false): return 0
        case .data(slaveOnly: true): return 1
        case .arbiter: return 2
        }
    }

    fileprivate init(wireCode: UInt8) throws {
        switch wireCode {
        case 0: self = .data(slaveOnly: false)
        case 1: self = .data(slaveOnly: true)
        case 2: self = .arbiter
        default: throw CoordinationWireError("unknown member kind \(wireCode)")
        }
    }
}

extension Duration {
    /// Nanoseconds, saturating: only monotonic offsets since a process started travel, far from the limits.
    fileprivate var wireNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? .min : .max) : sum
    }

    fileprivate init(wireNanoseconds: Int64) {
        self = .nanoseconds(wireNanoseconds)
    }
}

extension ByteBuffer {
    fileprivate mutating func readOrThrow<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        guard let value = readInteger(as: T.self) else {
            throw CoordinationWireError("frame truncated: expected a \(T.self)")
        }
        return value
    }

    fileprivate mutating func readBool() throws -> Bool {
        let byte: UInt8 = try readOrThrow()
        guard byte <= 1 else { throw CoordinationWireError("invalid boolean byte \(byte)") }
        return byte == 1
    }

    fileprivate mutating func readBoundedString() throws -> String {
        let count: UInt16 = try readOrThrow()
        guard Int(count) <= CoordinationWire.maximumStringBytes else {
            throw CoordinationWireError("string of \(count) bytes exceeds \(CoordinationWire.maximumStringBytes)")
        }
        guard let bytes = readBytes(length: Int(count)) else {
            throw CoordinationWireError("frame truncated inside a string")
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw CoordinationWireError("string is not valid UTF-8")
        }
        return string
    }

    fileprivate mutating func readOptionalString() throws -> String? {
        try readBool() ? try readBoundedString() : nil
    }

    fileprivate mutating func writeBoundedString(_ string: String) {
        var utf8 = Array(string.utf8.prefix(CoordinationWire.maximumStringBytes))
        // Never cut a multi-byte character in half: drop continuation bytes left dangling by the prefix.
        while let last = utf8.last, String(validating: utf8, as: UTF8.self) == nil, last & 0x80 != 0 {
            utf8.removeLast()
        }
        writeInteger(UInt16(utf8.count))
        writeBytes(utf8)
    }

    fileprivate mutating func writeOptionalString(_ string: String?) {
        if let string {
            writeInteger(UInt8(1))
            writeBoundedString(string)
        } else {
            writeInteger(UInt8(0))
        }
    }
}

import NIOCore

/// Bolt version negotiation (bolt.md §1): the 20-byte client proposal, the legacy 4-byte reply, and manifest v1.
///
/// A value type fed with inbound bytes; it says what to send and when the version is settled. The server offers
/// `supported` (ranges never cross a major version); the first client slot, in client order, that names a
/// supported version wins, and within it the highest minor. A manifest slot (`00 00 01 FF`) wins the same way:
/// the server then lists its versions and the client names its pick, which must be one of them.
public struct BoltHandshake: Sendable {
    public static let magic: UInt32 = 0x6060_B017
    public static let manifestV1: UInt32 = 0x0000_01FF

    public enum Step: Equatable, Sendable {
        /// Not enough bytes yet.
        case needMoreBytes
        /// Send these bytes; then wait for the client's pick (manifest) — call `feed` again.
        case sendAndWait([UInt8])
        /// Send these bytes (possibly none); the version is settled and Bolt messages follow.
        case completed(reply: [UInt8], version: BoltVersion, viaManifest: Bool)
        /// Send these bytes (possibly none) and close: no common version, or not Bolt at all.
        case reject(reply: [UInt8], reason: String)
    }

    enum State: Sendable {
        case awaitingProposal
        case awaitingManifestChoice
        case done
    }

    /// Versions this server speaks, in the order it prefers them (highest first).
    public let supported: [BoltVersion]
    var state: State = .awaitingProposal

    public init(supported: [BoltVersion] = BoltHandshake.defaultVersions) {
        self.supported = supported.sorted(by: >)
    }

    /// Bolt 5.0–5.8 and 4.4.
    public static let defaultVersions: [BoltVersion] = (0...8).map { BoltVersion(5, UInt8($0)) } + [.v4_4]

    /// Consumes handshake bytes from `buffer` (leaving anything after the handshake, such as a pipelined HELLO).
    public mutating func feed(_ buffer: inout ByteBuffer) -> Step {
        switch state {
        case .done:
            return .needMoreBytes
        case .awaitingProposal:
            guard buffer.readableBytes >= 4 else { return .needMoreBytes }
            guard buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) == Self.magic else {
                state = .done
                let first = buffer.getBytes(at: buffer.readerIndex, length: 4) ?? []
                let text = String(decoding: first, as: UTF8.self)
                let isHTTP = ["GET ", "POST", "HEAD", "PUT ", "OPTI", "DELE"].contains(text)
                return .reject(reply: [], reason: isHTTP ? "HTTP request on the Bolt port" : "not a Bolt handshake")
            }
            guard buffer.readableBytes >= 20 else { return .needMoreBytes }
            buffer.moveReaderIndex(forwardBy: 4)
            var slots: [UInt32] = []
            for _ in 0..<4 {
                slots.append(buffer.readInteger(as: UInt32.self)!)
            }
            for slot in slots where slot != 0 {
                if slot == Self.manifestV1 {
                    state = .awaitingManifestChoice
                    return .sendAndWait(manifestReply())
                }
                if let version = pick(slot) {
                    state = .done
                    return .completed(reply: [0, 0, version.minor, version.major], version: version,
                        viaManifest: false)
                }
            }
            state = .done
            return .reject(reply: [0, 0, 0, 0], reason: "no common Bolt version")
        case .awaitingManifestChoice:
            // 4-byte version, then a varint capability mask (which we accept and ignore).
            guard buffer.readableBytes >= 5 else { return .needMoreBytes }
            var probe = buffer
            probe.moveReaderIndex(forwardBy: 4)
            var varintBytes = 0
            while true {
                guard let b = probe.readInteger(as: UInt8.self) else { return .needMoreBytes }
                varintBytes += 1
                if b & 0x80 == 0 { break }
                if varintBytes >= 10 {
                    state = .done
                    return .reject(reply: [], reason: "capability mask too long")
                }
            }
            let chosen = buffer.readInteger(as: UInt32.self)!
            buffer.moveReaderIndex(forwardBy: varintBytes)
            state = .done
            let version = BoltVersion(UInt8(chosen & 0xFF), UInt8((chosen >> 8) & 0xFF))
            guard chosen >> 16 == 0, supported.contains(version) else {
                return .reject(reply: [], reason: "client chose version \(version), which was not offered")
            }
            return .completed(reply: [], version: version, viaManifest: true)
        }
    }

    /// The best supported version inside one client slot `[reserved][range][minor][major]`.
    func pick(_ slot: UInt32) -> BoltVersion? {
        let major = UInt8(slot & 0xFF)
        let minor = UInt8((slot >> 8) & 0xFF)
        let range = UInt8((slot >> 16) & 0xFF)
        let lowest = minor >= range ? minor - range : 0
        return supported.first { $0.major == major && $0.minor <= minor && $0.minor >= lowest }
    }

    /// `00 00 01 FF`, varint count, one range per major version, capability mask 0.
    func manifestReply() -> [UInt8] {
        var ranges: [(major: UInt8, high: UInt8, low: UInt8)] = []
        for v in supported {
            if let last = ranges.last, last.major == v.major, last.low == v.minor + 1 {
                ranges[ranges.count - 1].low = v.minor
            } else {
                ranges.append((v.major, v.minor, v.minor))
            }
        }
        var out: [UInt8] = [0, 0, 1, 0xFF]
        out += Self.varint(UInt64(ranges.count))
        for r in ranges {
            out += [0, r.high - r.low, r.high, r.major]
        }
        out += [0]
        return out
    }

    /// LEB128: 7 bits per byte, least significant group first.
    public static func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
}

// ClusterCore: the pure decision core of Trellis HA (master/slave clustering in the mould of Neo4j 3.x HA).
//
// Everything here is a value type driven by inputs (`heartbeatReceived`, `voteRequested`, `tick(now:)`, …) that
// returns `Action`s for a shell to execute. There is no I/O, no clock read and no global randomness: time is a
// monotonic `Duration` passed in by the shell, randomness comes from a seed. `ClusterSim` runs these machines in a
// deterministic simulation; `ClusterNIO` is the network shell. See docs/clustering-design.md.

/// A cluster member's identity: its `ha.server_id`.
///
/// Deviation from the house style: the per-process incarnation is not part of the identity. The coordination shell
/// exchanges one in its hello (to tell a restart from a duplicate server id or a connection to itself), but the
/// core knows members by server id alone; what a restarted member forgot is covered by its quiet period (see
/// `MasterElection`).
public struct MemberID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The configured server id (`ha.server_id`).
    public let rawValue: Int

    /// Creates an identity from a server id.
    public init(_ rawValue: Int) {
        self.rawValue = rawValue
    }

    public static func < (lhs: MemberID, rhs: MemberID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "member \(rawValue)" }
}

/// A master epoch. Every successful election produces a strictly larger epoch; requests carry it as a fencing token.
public struct Epoch: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The epoch number; 0 means "no master was ever elected".
    public let rawValue: UInt64

    /// Creates an epoch from its number.
    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The epoch before any election.
    public static let zero = Epoch(0)

    /// The epoch following this one.
    public var next: Epoch { Epoch(rawValue + 1) }

    public static func < (lhs: Epoch, rhs: Epoch) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "epoch \(rawValue)" }
}

/// The position of a member's transaction log: its last committed transaction id.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id of the last committed transaction (the base transaction of an empty store is 1, as in Neo4j).
    public let lastCommittedTx: UInt64

    /// Creates a log position.
    public init(lastCommittedTx: UInt64) {
        self.lastCommittedTx = lastCommittedTx
    }

    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool { lhs.lastCommittedTx < rhs.lastCommittedTx }

    public var description: String { "tx \(lastCommittedTx)" }
}

/// SplitMix64: a tiny deterministic generator, so election jitter is reproducible from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

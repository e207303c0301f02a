/// A Bolt protocol version (`major.minor`).
public struct BoltVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: UInt8
    public var minor: UInt8

    public init(_ major: UInt8, _ minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: BoltVersion, b: BoltVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public static let v4_4 = BoltVersion(4, 4)
    public static let v5_0 = BoltVersion(5, 0)
    public static let v5_1 = BoltVersion(5, 1)
    public static let v5_7 = BoltVersion(5, 7)
    public static let v5_8 = BoltVersion(5, 8)

    /// Node, Relationship and UnboundRelationship carry element ids from 5.0 on.
    public var hasElementIds: Bool { major >= 5 }
    /// Authentication moved from HELLO into LOGON in 5.1.
    public var hasLogon: Bool { self >= .v5_1 }
    /// FAILURE metadata uses the GQL keys (`neo4j_code`, `gql_status`, …) from 5.7 on.
    public var hasGQLErrors: Bool { self >= .v5_7 }
    /// TELEMETRY exists from 5.4 on.
    public var hasTelemetry: Bool { self >= BoltVersion(5, 4) }
}

/// How values are written for one connection, fixed once HELLO has been processed.
public struct PackStreamOptions: Sendable, Hashable {
    /// Write element ids in graph structures (Bolt 5+).
    public var elementIds: Bool
    /// Write DateTime as the UTC-based `I`/`i` structures (Bolt 5+, or 4.4 with the `utc` patch) rather than the
    /// legacy local-wall-clock `F`/`f`.
    public var utcDateTime: Bool

    public init(elementIds: Bool, utcDateTime: Bool) {
        self.elementIds = elementIds
        self.utcDateTime = utcDateTime
    }

    /// The defaults for a version before any patch was negotiated.
    public init(version: BoltVersion) {
        self.elementIds = version.hasElementIds
        self.utcDateTime = version.major >= 5
    }
}

// Placeholder declarations: the temporal/spatial work replaces this file with full implementations
// (parsing, formatting as Neo4j's toString(), arithmetic, components, truncation).

/// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
public struct CypherDate: Sendable, Hashable {
    public var epochDays: Int64
    public init(epochDays: Int64) { self.epochDays = epochDays }
}

/// A time of day without zone, nanoseconds since midnight.
public struct CypherLocalTime: Sendable, Hashable {
    public var nanosecondOfDay: Int64
    public init(nanosecondOfDay: Int64) { self.nanosecondOfDay = nanosecondOfDay }
}

/// A time of day with a UTC offset.
public struct CypherTime: Sendable, Hashable {
    public var nanosecondOfDay: Int64
    public var offsetSeconds: Int32
    public init(nanosecondOfDay: Int64, offsetSeconds: Int32) {
        self.nanosecondOfDay = nanosecondOfDay
        self.offsetSeconds = offsetSeconds
    }
}

/// A date and time without zone.
public struct CypherLocalDateTime: Sendable, Hashable {
    public var epochSeconds: Int64
    public var nanosecond: Int32
    public init(epochSeconds: Int64, nanosecond: Int32) {
        self.epochSeconds = epochSeconds
        self.nanosecond = nanosecond
    }
}

/// A date and time with an offset and optionally a named zone (epochSeconds is UTC).
public struct CypherDateTime: Sendable, Hashable {
    public var epochSeconds: Int64
    public var nanosecond: Int32
    public var offsetSeconds: Int32
    public var zoneId: String?
    public init(epochSeconds: Int64, nanosecond: Int32, offsetSeconds: Int32, zoneId: String?) {
        self.epochSeconds = epochSeconds
        self.nanosecond = nanosecond
        self.offsetSeconds = offsetSeconds
        self.zoneId = zoneId
    }
}

/// A duration in months, days, seconds and nanoseconds, as Neo4j keeps it.
public struct CypherDuration: Sendable, Hashable {
    public var months: Int64
    public var days: Int64
    public var seconds: Int64
    public var nanoseconds: Int32
    public init(months: Int64, days: Int64, seconds: Int64, nanoseconds: Int32) {
        self.months = months
        self.days = days
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// A 2D or 3D point with a spatial reference id (7203 cartesian, 9157 cartesian-3d, 4326 WGS-84, 4979 WGS-84-3d).
public struct CypherPoint: Sendable, Hashable {
    public var srid: Int32
    public var x: Double
    public var y: Double
    public var z: Double?
    public init(srid: Int32, x: Double, y: Double, z: Double? = nil) {
        self.srid = srid
        self.x = x
        self.y = y
        self.z = z
    }
}

import GraphValues

/// The five temporal kinds Cypher constructs.
enum TemporalKind: String {
    case date
    case localTime = "localtime"
    case time
    case localDateTime = "localdatetime"
    case dateTime = "datetime"

    var hasDate: Bool { self == .date || self == .localDateTime || self == .dateTime }
    var hasTime: Bool { self != .date }
    var hasZone: Bool { self == .time || self == .dateTime }
}

/// A temporal value taken apart: the local date, local time of day and zone, each present or not.
/// Construction, conversion, truncation and `duration.between` all work on this shape.
struct TemporalParts {
    var epochDay: Int64?
    var nanoOfDay: Int64?
    /// The zone (named, or fixed offset) for zoned values.
    var zone: CypherTimeZone?
    /// The offset in force for zoned values (for named zones, at this date and time).
    var offset: Int32?

    init(epochDay: Int64? = nil, nanoOfDay: Int64? = nil, zone: CypherTimeZone? = nil, offset: Int32? = nil) {
        self.epochDay = epochDay
        self.nanoOfDay = nanoOfDay
        self.zone = zone
        self.offset = offset
    }

    /// Takes a temporal value apart; nil for anything else.
    init?(_ value: Value) {
        switch value {
        case .date(let d):
            self.init(epochDay: d.epochDays)
        case .localTime(let t):
            self.init(nanoOfDay: t.nanosecondOfDay)
        case .time(let t):
            self.init(nanoOfDay: t.nanosecondOfDay, zone: .offset(t.offsetSeconds), offset: t.offsetSeconds)
        case .localDateTime(let l):
            self.init(epochDay: l.date.epochDays, nanoOfDay: l.localTime.nanosecondOfDay)
        case .dateTime(let dt):
            let local = dt.local
            self.init(
                epochDay: local.date.epochDays, nanoOfDay: local.localTime.nanosecondOfDay, zone: dt.zone,
                offset: dt.offsetSeconds)
        default:
            return nil
        }
    }

    /// Like `init?(_:)`, but throws an ArgumentError for a temporal value whose stored fields are outside what
    /// Neo4j can represent (such values can only arrive from outside, e.g. a malformed Bolt structure), so that
    /// no later arithmetic on them can overflow.
    static func checked(_ value: Value) throws -> TemporalParts? {
        switch value {
        case .date(let d) where !d.isWithinSupportedRange: break
        case .localTime(let t) where !t.isWithinSupportedRange: break
        case .time(let t) where !t.isWithinSupportedRange: break
        case .localDateTime(let l) where !l.isWithinSupportedRange: break
        case .dateTime(let dt) where !dt.isWithinSupportedRange: break
        default: return TemporalParts(value)
        }
        throw DatabaseError(.argumentError, "Temporal value out of the supported range: \(value.temporalErrorText)")
    }

    var localSeconds: Int64 { (epochDay ?? 0) * 86_400 + (nanoOfDay ?? 0) / TemporalCalendar.nanosPerSecond }
    var nanoOfSecond: Int64 { (nanoOfDay ?? 0) % TemporalCalendar.nanosPerSecond }

    /// Puts the parts together as `kind`, resolving a named zone's offset for the local date-time (the
    /// existing offset is preferred in an overlap). Missing parts default to midnight / the default zone.
    func make(_ kind: TemporalKind, defaultZone: CypherTimeZone, now: Int64) throws -> Value {
        switch kind {
        case .date:
            guard let epochDay else { throw DatabaseError(.argumentError, "A date needs a date part") }
            return .date(CypherDate(epochDays: epochDay))
        case .localTime:
            return .localTime(CypherLocalTime(nanosecondOfDay: nanoOfDay ?? 0))
        case .time:
            let zone = self.zone ?? defaultZone
            var offset: Int32
            if case .offset(let o) = zone {
                offset = o
            } else if let existing = self.offset, self.zone == zone {
                offset = existing
            } else if let epochDay {
                offset =
                    zone.dateTime(
                        localEpochSecond: epochDay * 86_400 + (nanoOfDay ?? 0) / 1_000_000_000,
                        nanosecond: 0
                    ).offsetSeconds
            } else {
                offset = zone.offset(atEpochSecond: now)
            }
            return .time(CypherTime(nanosecondOfDay: nanoOfDay ?? 0, offsetSeconds: offset))
        case .localDateTime:
            guard epochDay != nil else { throw DatabaseError(.argumentError, "A local date time needs a date part") }
            return .localDateTime(CypherLocalDateTime(epochSeconds: localSeconds, nanosecond: Int32(nanoOfSecond)))
        case .dateTime:
            guard epochDay != nil else { throw DatabaseError(.argumentError, "A date time needs a date part") }
            let zone = self.zone ?? defaultZone
            return .dateTime(
                zone.dateTime(
                    localEpochSecond: localSeconds, nanosecond: Int32(nanoOfSecond),
                    preferredOffset: self.zone == zone ? offset : nil))
        }
    }
}

extension CypherDateTime {
    /// The same instant seen in another zone (`withZoneSameInstant`).
    func converted(to zone: CypherTimeZone) -> CypherDateTime {
        zone.dateTime(epochSecond: epochSeconds, nanosecond: nanosecond)
    }
}

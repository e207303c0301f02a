#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The coordinate reference systems Neo4j supports, by SRID.
public enum CoordinateReferenceSystem: Int32, Sendable, CaseIterable {
    case cartesian = 7203
    case cartesian3D = 9157
    case wgs84 = 4326
    case wgs84_3D = 4979

    /// Neo4j's CRS name (`crs` property and `toString`).
    public var name: String {
        switch self {
        case .cartesian: return "cartesian"
        case .cartesian3D: return "cartesian-3d"
        case .wgs84: return "wgs-84"
        case .wgs84_3D: return "wgs-84-3d"
        }
    }

    public var isGeographic: Bool { self == .wgs84 || self == .wgs84_3D }
    public var dimensions: Int { (self == .cartesian3D || self == .wgs84_3D) ? 3 : 2 }

    /// The CRS's URL as Neo4j reports it in `p.crs`-adjacent metadata (spatialreference.org).
    public var href: String {
        switch self {
        case .cartesian: return "http://spatialreference.org/ref/sr-org/7203/"
        case .cartesian3D: return "http://spatialreference.org/ref/sr-org/9157/"
        case .wgs84: return "http://spatialreference.org/ref/epsg/4326/"
        case .wgs84_3D: return "http://spatialreference.org/ref/epsg/4979/"
        }
    }

    /// Looks a CRS up by name, case-insensitively (`WGS-84`, `cartesian-3D`).
    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = found
    }
}

extension CypherPoint: CustomStringConvertible {
    public var crs: CoordinateReferenceSystem? { CoordinateReferenceSystem(rawValue: srid) }

    /// Neo4j `toString()`: `point({x: 1.0, y: 2.0, crs: 'cartesian'})`, `point({x: 12.5, y: 56.2, z: 100.0,
    /// crs: 'wgs-84-3d'})`. Coordinates are printed as Java prints doubles.
    public var cypherString: String {
        var text = "point({x: \(JavaDouble.format(x)), y: \(JavaDouble.format(y))"
        if let z { text += ", z: \(JavaDouble.format(z))" }
        text += ", crs: '\(crs?.name ?? String(srid))'})"
        return text
    }

    public var description: String { cypherString }

    /// Mean Earth radius Neo4j uses for WGS-84 distances (metres).
    public static let earthRadiusMeters = 6_378_140.0

    /// `distance(a, b)`: Euclidean for cartesian CRSs, haversine great-circle distance for WGS-84 (with the
    /// height difference combined by Pythagoras for 3D, as Neo4j does). Nil when the CRSs differ.
    public static func distance(_ a: CypherPoint, _ b: CypherPoint) -> Double? {
        guard a.srid == b.srid, let crs = a.crs else { return nil }
        if crs.isGeographic {
            let lat1 = a.y * .pi / 180
            let lat2 = b.y * .pi / 180
            let dLat = lat2 - lat1
            let dLon = (b.x - a.x) * .pi / 180
            let h = sin(dLat / 2) * sin(dLat / 2) + cos(lat1) * cos(lat2) * sin(dLon / 2) * sin(dLon / 2)
            let greatCircle = 2 * earthRadiusMeters * atan2(h.squareRoot(), (1 - h).squareRoot())
            if crs == .wgs84_3D {
                let dz = (b.z ?? 0) - (a.z ?? 0)
                return (greatCircle * greatCircle + dz * dz).squareRoot()
            }
            return greatCircle
        }
        let dx = b.x - a.x
        let dy = b.y - a.y
        let dz = (crs == .cartesian3D) ? (b.z ?? 0) - (a.z ?? 0) : 0
        return (dx * dx + dy * dy + dz * dz).squareRoot()
    }
}

/// Java's `Double.toString` text (shortest round-trip digits; plain notation for 1e-3 ≤ |d| < 1e7, otherwise
/// `1.0E7` style), which Neo4j uses whenever it prints a float.
public enum JavaDouble {
    /// The text Java would print for `value`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description yields the shortest round-trip digits; re-layout them the Java way.
        let swiftText = "\(abs(value))"
        var mantissa = swiftText
        var exponent = 0
        if let e = swiftText.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(swiftText[..<e])
            exponent = Int(swiftText[swiftText.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = String(mantissa[..<dot])
            fracPart = String(mantissa[mantissa.index(after: dot)...])
        }
        // All significant digits, and the decimal exponent of the first one.
        var digits = intPart + fracPart
        var pointPosition = intPart.count + exponent  // digits before the decimal point
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let magnitude = abs(value)
        if magnitude >= 1e-3 && magnitude < 1e7 {
            if pointPosition <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
            }
            if pointPosition >= digits.count {
                return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
            }
            let i = digits.index(digits.startIndex, offsetBy: pointPosition)
            return sign + digits[..<i] + "." + digits[i...]
        }
        let first = digits.prefix(1)
        let rest = digits.count > 1 ? String(digits.dropFirst()) : "0"
        return sign + first + "." + rest + "E" + String(pointPosition - 1)
    }
}

import GraphValues

/// `point()`, `distance()`/`point.distance()`, `point.withinBBox()` and point properties, as Neo4j defines them.
enum SpatialFunctions {
    static func number(_ value: Value, _ key: String) throws -> Double {
        switch value {
        case .integer(let i): return Double(i)
        case .float(let f): return f
        default:
            throw DatabaseError(
                .typeError, "Cannot assign \(key) to a point: expected a number, got \(value.temporalErrorText)")
        }
    }

    /// `point({x, y[, z][, crs | srid]})` or `point({longitude, latitude[, height][, crs | srid]})`.
    static func point(_ arg: Value) throws -> Value {
        guard case .map(let input) = arg else {
            if arg.isNull { return .null }
            if case .point = arg { return arg }
            throw DatabaseError(.typeError, "point() expects a map, got: \(arg.temporalErrorText)")
        }
        var map: [String: Value] = [:]
        for (k, v) in input { map[k.lowercased()] = v }
        // A null coordinate makes the point null (as Neo4j).
        if map.values.contains(where: { $0.isNull }) { return .null }
        for key in map.keys
        where !["x", "y", "z", "longitude", "latitude", "height", "crs", "srid"].contains(key) {
            throw DatabaseError(.argumentError, "Unknown key '\(key)' for creating new point")
        }
        let cartesianKeys = map["x"] != nil || map["y"] != nil || map["z"] != nil
        let geographicKeys = map["longitude"] != nil || map["latitude"] != nil || map["height"] != nil
        if cartesianKeys && geographicKeys {
            throw DatabaseError(
                .argumentError, "Cannot mix cartesian (x, y, z) and geographic (longitude, latitude, height) keys")
        }
        var x: Double
        var y: Double
        var z: Double?
        if geographicKeys {
            guard let lon = map["longitude"], let lat = map["latitude"] else {
                throw DatabaseError(.argumentError, "A geographic point needs both longitude and latitude")
            }
            x = try number(lon, "longitude")
            y = try number(lat, "latitude")
            z = try map["height"].map { try number($0, "height") }
        } else {
            guard let xv = map["x"], let yv = map["y"] else {
                throw DatabaseError(.argumentError, "A point needs x and y, or longitude and latitude")
            }
            x = try number(xv, "x")
            y = try number(yv, "y")
            z = try map["z"].map { try number($0, "z") }
        }
        let crs: CoordinateReferenceSystem
        if let name = map["crs"] {
            guard case .string(let text) = name, let found = CoordinateReferenceSystem(name: text) else {
                throw DatabaseError(.argumentError, "Unknown coordinate reference system: \(name.temporalErrorText)")
            }
            crs = found
        } else if let sridValue = map["srid"] {
            guard case .integer(let code) = sridValue,
                let found = CoordinateReferenceSystem(rawValue: Int32(truncatingIfNeeded: code))
            else {
                throw DatabaseError(
                    .argumentError, "Unknown coordinate reference system code: \(sridValue.temporalErrorText)")
            }
            crs = found
        } else if geographicKeys {
            crs = z == nil ? .wgs84 : .wgs84_3D
        } else {
            crs = z == nil ? .cartesian : .cartesian3D
        }
        guard crs.dimensions == (z == nil ? 2 : 3) else {
            throw DatabaseError(
                .argumentError,
                "Cannot create point with \(z == nil ? 2 : 3)D coordinates and \(crs.dimensions)D CRS '\(crs.name)'")
        }
        if crs.isGeographic {
            guard y >= -90 && y <= 90 else {
                throw DatabaseError(
                    .argumentError,
                    "Cannot create WGS84 point with invalid coordinate: latitude \(JavaDouble.format(y))"
                        + " is not within [-90, 90]")
            }
            guard x >= -180 && x <= 180 else {
                throw DatabaseError(
                    .argumentError,
                    "Cannot create WGS84 point with invalid coordinate: longitude \(JavaDouble.format(x))"
                        + " is not within [-180, 180]")
            }
        }
        return .point(CypherPoint(srid: crs.rawValue, x: x, y: y, z: z))
    }

    static func distance(_ a: Value, _ b: Value) throws -> Value {
        if a.isNull || b.isNull { return .null }
        guard case .point(let p) = a, case .point(let q) = b else {
            throw DatabaseError(
                .typeError, "distance() expects two points, got: \(a.temporalErrorText), \(b.temporalErrorText)")
        }
        guard let d = CypherPoint.distance(p, q) else { return .null }
        return .float(d)
    }

    static func withinBBox(_ point: Value, _ lowerLeft: Value, _ upperRight: Value) throws -> Value {
        if point.isNull || lowerLeft.isNull || upperRight.isNull { return .null }
        guard case .point(let p) = point, case .point(let ll) = lowerLeft, case .point(let ur) = upperRight else {
            throw DatabaseError(.typeError, "point.withinBBox() expects three points")
        }
        guard p.srid == ll.srid, p.srid == ur.srid else { return .null }
        let geographic = p.crs?.isGeographic ?? false
        if geographic && ll.y > ur.y { return .null }
        let yInside = p.y >= ll.y && p.y <= ur.y
        // A geographic box whose left edge is east of its right edge crosses the antimeridian.
        let xInside = geographic && ll.x > ur.x ? (p.x >= ll.x || p.x <= ur.x) : (p.x >= ll.x && p.x <= ur.x)
        var zInside = true
        if let z = p.z, let lz = ll.z, let uz = ur.z { zInside = z >= lz && z <= uz }
        return .boolean(xInside && yInside && zInside)
    }

    static func property(of p: CypherPoint, _ key: String) throws -> Value {
        let geographic = p.crs?.isGeographic ?? false
        switch key.lowercased() {
        case "x": return .float(p.x)
        case "y": return .float(p.y)
        case "z":
            guard let z = p.z else { throw DatabaseError(.argumentError, "Field: z is not available on a 2D point") }
            return .float(z)
        case "longitude":
            guard geographic else {
                throw DatabaseError(
                    .argumentError, "Field: longitude is not available on cartesian point: \(p.cypherString)")
            }
            return .float(p.x)
        case "latitude":
            guard geographic else {
                throw DatabaseError(
                    .argumentError, "Field: latitude is not available on cartesian point: \(p.cypherString)")
            }
            return .float(p.y)
        case "height":
            guard geographic, let z = p.z else {
                throw DatabaseError(.argumentError, "Field: height is not available on point: \(p.cypherString)")
            }
            return .float(z)
        case "crs": return .string(p.crs?.name ?? String(p.srid))
        case "srid": return .integer(Int64(p.srid))
        default: throw DatabaseError(.argumentError, "No such field: \(key)")
        }
    }

    /// ORDER BY order for points: by SRID, then coordinates.
    static func order(_ a: CypherPoint, _ b: CypherPoint) -> Int {
        let ka = [Double(a.srid), a.x, a.y, a.z ?? -.infinity]
        let kb = [Double(b.srid), b.x, b.y, b.z ?? -.infinity]
        for (x, y) in zip(ka, kb) where x != y { return x < y ? -1 : 1 }
        return 0
    }
}

import GraphValues

/// Bookmarks are opaque strings to clients; Trellis writes `FB:trellis:tx:<id>` where `<id>` is the committed
/// transaction id. A transaction that names bookmarks starts only once this instance has applied that
/// transaction (immediate on a single instance; on a slave it waits for replication).
public enum Bookmark {
    static let prefix = "FB:trellis:tx:"

    public static func make(txID: Int64) -> String { prefix + String(txID) }

    /// The transaction id a bookmark stands for. Throws `InvalidBookmark` for text we did not write.
    public static func txID(_ bookmark: String) throws -> Int64 {
        guard bookmark.hasPrefix(prefix), let id = Int64(bookmark.dropFirst(prefix.count)), id >= 0 else {
            throw DatabaseError(.invalidBookmark, "Supplied bookmark [\(bookmark)] does not conform to pattern \(prefix)<tx id>")
        }
        return id
    }

    /// The highest transaction id among `bookmarks` (0 when empty).
    public static func highest(_ bookmarks: [String]) throws -> Int64 {
        try bookmarks.reduce(0) { max($0, try txID($1)) }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphValues

/// What happens to a store found to have diverged from the master (`ha.branched_data_policy`, neo4j-ha.md §5).
public enum BranchedDataPolicy: String, Sendable, Hashable, CaseIterable {
    /// Move the store into `branched/<timestamp>/` and keep every older branch (`keep_all`, the default).
    case keepAll = "keep_all"
    /// Move the store into `branched/<timestamp>/` and delete every older branch (`keep_last`).
    case keepLast = "keep_last"
    /// Delete the store's files (`keep_none`); older branches are left alone, as in Neo4j.
    case keepNone = "keep_none"

    /// Parses the setting's value (`keep_all`, `keep_last`, `keep_none`).
    public init?(settingValue: String) {
        self.init(rawValue: String(settingValue.filter { !$0.isWhitespace }).lowercased())
    }
}

/// File-level operations on a database directory that the HA layer needs while the database is closed.
public enum StoreDirectories {
    /// Entries of a database directory that belong to the member rather than to the store: never moved or deleted
    /// with the store (Neo4j's list, plus our lock file).
    public static let preservedEntries: Set<String> = [
        "branched", "temp-copy", "metrics", "logs", "certificates", "store_lock",
    ]

    /// Moves the store in `databaseDirectory` away (the database must be closed): into
    /// `<databaseDirectory>/branched/<yyyyMMdd-HHmmss>/` (UTC of `now`; `-1`, `-2`, … appended when that name is
    /// taken) for `keepAll` and `keepLast` — `keepLast` then deletes every other branch — or deleted for `keepNone`.
    ///
    /// Returns the branch directory, or "" when nothing was kept (`keepNone`, or no store files to move). The
    /// metadata file (`neostore`) moves first, so a crash half-way leaves a directory that does not open as a
    /// store (instead of a store with missing files); calling this again moves the rest into a new branch.
    /// Every rename is made durable (directory fsync).
    @discardableResult
    public static func moveToBranched(databaseDirectory: String, keep: BranchedDataPolicy, now: Date) throws -> String {
        let manager = FileManager.default
        let entries = try listEntries(databaseDirectory)
            .filter { !preservedEntries.contains($0) }
            .sorted { lhs, rhs in
                // The metadata first (see above), then by name for a deterministic order.
                if (lhs == "neostore") != (rhs == "neostore") { return lhs == "neostore" }
                return lhs < rhs
            }
        let branchedRoot = databaseDirectory + "/branched"
        guard !entries.isEmpty else { return "" }

        if keep == .keepNone {
            for name in entries { try remove(databaseDirectory + "/" + name, manager) }
            try syncDirectory(databaseDirectory)
            return ""
        }

        try createDirectory(branchedRoot, manager)
        let stamp = branchName(now)
        var name = stamp
        var suffix = 0
        while manager.fileExists(atPath: branchedRoot + "/" + name) {
            suffix += 1
            name = stamp + "-\(suffix)"
        }
        let branch = branchedRoot + "/" + name
        try createDirectory(branch, manager)
        try syncDirectory(branchedRoot)
        for entry in entries {
            if rename(databaseDirectory + "/" + entry, branch + "/" + entry) != 0 {
                throw DatabaseError(
                    .storageDamageDetected,
                    "Cannot move \(databaseDirectory)/\(entry) into \(branch): \(String(cString: strerror(errno)))")
            }
            try syncDirectory(databaseDirectory)
        }
        try syncDirectory(branch)

        if keep == .keepLast {
            for other in try listEntries(branchedRoot) where other != name {
                try remove(branchedRoot + "/" + other, manager)
            }
            try syncDirectory(branchedRoot)
        }
        return branch
    }

    /// Moves a complete store that was copied into `staging` (for `copy_then_branch`, a directory under
    /// `<databaseDirectory>/temp-copy/`) into `databaseDirectory`, which must hold no store any more (moved away
    /// first): the store and log files first, the metadata file (`neostore`) last, so a crash half-way leaves a
    /// directory that does not open as a store. Every rename is made durable; `staging` is removed afterwards.
    public static func installCopy(from staging: String, into databaseDirectory: String) throws {
        let entries = try listEntries(staging).filter { !preservedEntries.contains($0) }
        guard entries.contains("neostore") else {
            throw DatabaseError(.storageDamageDetected, "\(staging) holds no complete store copy (no neostore file)")
        }
        let existing = Set(try listEntries(databaseDirectory))
        if existing.contains("neostore") {
            throw DatabaseError(.invalidRequest, "Cannot install a store copy into \(databaseDirectory): it holds a store")
        }
        // Leftovers of an interrupted install or copy (store files without metadata) make way.
        for name in entries where existing.contains(name) {
            try remove(databaseDirectory + "/" + name, FileManager.default)
        }
        for name in entries.filter({ $0 != "neostore" }).sorted() + ["neostore"] {
            if rename(staging + "/" + name, databaseDirectory + "/" + name) != 0 {
                throw DatabaseError(
                    .storageDamageDetected,
                    "Cannot move \(staging)/\(name) into \(databaseDirectory): \(String(cString: strerror(errno)))")
            }
        }
        try syncDirectory(databaseDirectory)
        try? FileManager.default.removeItem(atPath: staging)
    }

    /// The branches kept under `<databaseDirectory>/branched`, oldest first (names sort by time).
    public static func branches(databaseDirectory: String) throws -> [String] {
        let root = databaseDirectory + "/branched"
        guard FileManager.default.fileExists(atPath: root) else { return [] }
        return try listEntries(root).sorted().map { root + "/" + $0 }
    }

    /// `yyyyMMdd-HHmmss` in UTC, computed by hand (no calendar or formatter needed for a fixed UTC layout).
    static func branchName(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "-" + pad(secondOfDay / 3600, 2)
            + pad(secondOfDay / 60 % 60, 2) + pad(secondOfDay % 60, 2)
    }

    // MARK: Helpers

    private static func listEntries(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw DatabaseError(.storageDamageDetected, "Cannot list \(path): \(error)")
        }
    }

    private static func createDirectory(_ path: String, _ manager: FileManager) throws {
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DatabaseError(.storageDamageDetected, "Cannot create \(path): \(error)")
        }
    }

    private static func remove(_ path: String, _ manager: FileManager) throws {
        do {
            try manager.removeItem(atPath: path)
        } catch {
            throw DatabaseError(.storageDamageDetected, "Cannot delete \(path): \(error)")
        }
    }

    /// Makes renames and deletions in `path` durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DatabaseError(.storageDamageDetected, "Cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw DatabaseError(.storageDamageDetected, "Cannot fsync \(path): \(String(cString: strerror(errno)))")
        }
    }
}

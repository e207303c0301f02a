import GraphValues

/// The schema indexes whose population failed, with the reason, so that a FAILED index stays FAILED (and says why)
/// across restarts until it is dropped, as in Neo4j, instead of silently being populated again at the next open.
///
/// File `neostore.indexfailures.db`, little-endian, replaced atomically (temp file, fsync, rename): magic
/// "TRIFAIL\0" · format version (Int32) · entry count (Int32) · per entry the index name, label (Int32), property
/// key (Int32), unique flag (UInt8) and reason, strings as byte count (Int32) and UTF-8 · XXH64 of everything
/// before it (UInt64). A store without the file (every store written before it existed) has no failed index.
struct IndexFailures: Equatable {
    static let fileName = "neostore.indexfailures.db"
    static let magic: [UInt8] = Array("TRIFAIL".utf8) + [0]
    static let formatVersion: Int32 = 1

    struct Entry: Equatable {
        var name: String
        var label: Int32
        var propertyKey: Int32
        var isUnique: Bool
        var reason: String

        /// Whether `descriptor` is the index this failure was recorded for (same name and definition).
        func matches(_ descriptor: IndexDescriptor) -> Bool {
            descriptor.name == name && descriptor.label == label && descriptor.propertyKey == propertyKey
                && descriptor.isUnique == isUnique
        }
    }

    var entries: [Entry] = []

    func encode() -> [UInt8] {
        var out = Self.magic
        func string(_ s: String) {
            let utf8 = Array(s.utf8)
            appendInt32(&out, Int32(utf8.count))
            out.append(contentsOf: utf8)
        }
        appendInt32(&out, Self.formatVersion)
        appendInt32(&out, Int32(entries.count))
        for entry in entries {
            string(entry.name)
            appendInt32(&out, entry.label)
            appendInt32(&out, entry.propertyKey)
            out.append(entry.isUnique ? 1 : 0)
            string(entry.reason)
        }
        appendInt64(&out, Int64(bitPattern: XXHash64.hash(out)))
        return out
    }

    /// Decodes `bytes`; throws `Neo.DatabaseError.General.StorageDamageDetected` for a damaged or unknown file.
    static func decode(_ bytes: [UInt8]) throws -> IndexFailures {
        guard bytes.count >= magic.count + 8 + 8, Array(bytes.prefix(magic.count)) == magic else {
            throw DatabaseError(.storageDamageDetected, "\(fileName) is not an index-failures file")
        }
        let stored = UInt64(bitPattern: readInt64(bytes, bytes.count - 8))
        guard XXHash64.hash(bytes[0..<(bytes.count - 8)]) == stored else {
            throw DatabaseError(.storageDamageDetected, "\(fileName) is damaged: its checksum does not match")
        }
        var r = ByteReader(bytes: Array(bytes.prefix(bytes.count - 8)), position: magic.count)
        let version = try r.int32()
        guard version == formatVersion else {
            throw DatabaseError(
                .storageDamageDetected, "\(fileName) has format version \(version); this build reads \(formatVersion)")
        }
        func string() throws -> String { try r.string(Int(try r.int32())) }
        let count = Int(try r.int32())
        guard count >= 0, count <= r.remaining else { throw r.damaged("bad entry count") }
        var failures = IndexFailures()
        for _ in 0..<count {
            let name = try string()
            let label = try r.int32()
            let key = try r.int32()
            let unique = try r.byte() == 1
            failures.entries.append(
                Entry(name: name, label: label, propertyKey: key, isUnique: unique, reason: try string()))
        }
        guard r.remaining == 0 else { throw r.damaged("trailing bytes") }
        return failures
    }
}

extension GraphDatabase {
    /// The FAILED indexes as they are now, sorted by name. Must hold the store lock.
    func currentIndexFailures() -> IndexFailures {
        var failures = IndexFailures()
        for index in indexes.values.sorted(by: { $0.descriptor.name < $1.descriptor.name }) {
            guard case .failed(let reason) = index.descriptor.state else { continue }
            let d = index.descriptor
            failures.entries.append(
                .init(name: d.name, label: d.label, propertyKey: d.propertyKey, isUnique: d.isUnique, reason: reason))
        }
        return failures
    }

    /// Writes the index-failures file when the FAILED indexes differ from what it holds. Must hold the store lock
    /// exclusively (the only writers are population failures, schema changes and checkpoints, all under it).
    func persistIndexFailuresIfChanged() throws {
        let current = currentIndexFailures()
        guard current != writtenIndexFailures else { return }
        try writeFileAtomically(fileSystem, directory + "/" + IndexFailures.fileName, current.encode())
        writtenIndexFailures = current
    }

    /// Reads the index-failures file at open (none: no failed index). A damaged file does not keep the store
    /// from opening: it is logged, and the indexes it named are populated again as if they had never failed.
    func loadIndexFailures() throws {
        writtenIndexFailures = IndexFailures()
        guard let bytes = try readWholeFile(fileSystem, directory + "/" + IndexFailures.fileName) else { return }
        do {
            writtenIndexFailures = try IndexFailures.decode(bytes)
        } catch {
            configuration.logger.warning(
                "Ignoring the recorded index failures: \(Self.clientError(error)); those indexes are populated again",
                metadata: ["directory": "\(directory)"])
            // Differs from the (empty) current state, so the next write replaces the damaged file.
            writtenIndexFailures.entries.append(.init(name: "", label: -1, propertyKey: -1, isUnique: false, reason: ""))
        }
    }

    /// The recorded failure of `descriptor`, if its population failed before (and it was not dropped since).
    func recordedFailure(of descriptor: IndexDescriptor) -> String? {
        writtenIndexFailures.entries.first { $0.matches(descriptor) }?.reason
    }

    /// Installs every index with a recorded failure as FAILED (empty: queries never use it), replacing whatever
    /// the open built for it, then forgets failures of indexes that no longer exist. Must hold the store
    /// exclusively (called during open).
    func installRecordedIndexFailures() throws {
        for descriptor in schema.indexes {
            guard let reason = recordedFailure(of: descriptor) else { continue }
            var failed = descriptor
            failed.state = .failed(reason)
            indexes[descriptor.name] = PropertyIndex(descriptor: failed)
        }
        try persistIndexFailuresIfChanged()
    }
}

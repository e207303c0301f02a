import Foundation
import GraphValues
import Testing

@testable import GraphKernel

@Suite("Page cache")
struct PageCacheTests {
    func makeFile(_ fs: SimulatedFileSystem, _ cache: PageCache) throws -> PagedFile {
        cache.register(path: "/f", file: try fs.open("/f", create: true))
    }

    @Test("a cache of 16 pages over 64 pages evicts, writes dirty victims back and reads them again intact")
    func evictionRoundTrip() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 16 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        for page in 0..<64 {
            try cache.withPage(file, Int64(page), forWrite: true) { $0.storeBytes(of: UInt64(page * 7 + 1), as: UInt64.self) }
        }
        var stats = cache.stats
        #expect(stats.maxPages == 16)
        #expect(stats.residentPages == 16)
        #expect(stats.evictions == 48)
        #expect(stats.flushes == 48)
        #expect(stats.bytesWritten == 48 * Int64(PageCache.pageSizeBytes))
        for page in 0..<64 {
            let value = try cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) }
            #expect(value == UInt64(page * 7 + 1))
        }
        stats = cache.stats
        #expect(stats.faults >= 64 + 48)
        #expect(stats.bytesRead > 0)
        try cache.flushAll()
        #expect(fs.usedBytes == 64 * PageCache.pageSizeBytes)
    }

    @Test("a checkpoint flush racing readers that evict its dirty pages still makes every page durable")
    func flushRacingEvictions() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 256 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        let dirtyPages = 200
        // The reader below sweeps pages that exist on disk (a read past the file's end is answered without a
        // frame, so it would evict nothing).
        for page in 0..<(dirtyPages + 600) {
            try cache.withPage(file, Int64(page), forWrite: true) { $0.storeBytes(of: UInt64.max, as: UInt64.self) }
        }
        try cache.flushAll()
        for round in 0..<5 {
            for page in 0..<dirtyPages {
                try cache.withPage(file, Int64(page), forWrite: true) {
                    $0.storeBytes(of: UInt64(round * 1_000 + page), as: UInt64.self)
                }
            }
            // A reader sweeping pages beyond the dirty ones forces evictions (write-backs of dirty frames, reuse of
            // frames for other pages) while the flush works through its batches between lock holds.
            let reader = Thread {
                for page in dirtyPages..<(dirtyPages + 600) {
                    _ = try? cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) }
                }
            }
            reader.start()
            try cache.flushAll()
            while !reader.isFinished { Thread.sleep(forTimeInterval: 0.001) }
            // Only what was forced survives the crash: every dirty page must have been written and synced.
            fs.crash()
            cache.discardAll()
            for page in 0..<dirtyPages {
                let value = try cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) }
                #expect(value == UInt64(round * 1_000 + page), "page \(page) after round \(round)")
            }
        }
    }

    @Test("a checkpoint forces pages that eviction wrote back before it started, though none is dirty any more")
    func flushForcesEarlierEvictions() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 16 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        // A file of 48 pages on disk, then 8 of them changed in the cache.
        for page in 0..<48 {
            try cache.withPage(file, Int64(page), forWrite: true) { $0.storeBytes(of: 1, as: UInt64.self) }
        }
        try cache.flushAll()
        for page in 0..<8 {
            try cache.withPage(file, Int64(page), forWrite: true) { $0.storeBytes(of: UInt64(page + 11), as: UInt64.self) }
        }
        // Reading the 40 other pages evicts every dirty page (written back to the file, not forced).
        let flushed = cache.stats.flushes
        for page in 8..<48 { _ = try cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) } }
        #expect(cache.stats.flushes == flushed + 8)
        try cache.flushAll()
        fs.crash()
        cache.discardAll()
        for page in 0..<8 {
            #expect(try cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) } == UInt64(page + 11))
        }
    }

    @Test("a read far past a file's end is all zeros without taking a frame; a write there is refused as damage")
    func readsBeyondTheEnd() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 16 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        try cache.withPage(file, 0, forWrite: true) { $0.storeBytes(of: 5, as: UInt64.self) }
        for page: Int64 in [1, 100, 1 << 40, Int64.max / 2] {
            #expect(try cache.withPage(file, page, forWrite: false) { $0.load(as: UInt64.self) } == 0)
        }
        #expect(cache.stats.faults == 1)
        #expect(file.pageTable.count == 1)
        #expect(throws: DatabaseError.self) { try cache.withPage(file, 1 << 40, forWrite: true) { _ in () } }
        // A page the file grew to outside the cache (a store copy, say) is read from the file.
        let other = cache.register(path: "/g", file: try fs.open("/g", create: true))
        var bytes = [UInt8](repeating: 0, count: 3 * PageCache.pageSizeBytes)
        bytes[2 * PageCache.pageSizeBytes] = 9
        _ = try cache.withPage(other, 2, forWrite: false) { $0.load(as: UInt8.self) }
        try bytes.withUnsafeBytes { try fs.open("/g", create: false).write(at: 0, from: $0) }
        #expect(try cache.withPage(other, 2, forWrite: false) { $0.load(as: UInt8.self) } == 9)
    }

    @Test("pinned pages are never evicted; when everything is pinned a fault fails instead of corrupting a pin")
    func pinning() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 16 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        let pins = try (0..<16).map { try cache.pin(file, Int64($0)) }
        pins[3].pointer.storeBytes(of: 42, as: UInt64.self)
        #expect(throws: DatabaseError.self) { try cache.withPage(file, 100, forWrite: true) { _ in () } }
        cache.unpin(pins[0], dirty: false)
        try cache.withPage(file, 100, forWrite: false) { _ in () }
        #expect(pins[3].pointer.load(as: UInt64.self) == 42)
        for pin in pins.dropFirst() { cache.unpin(pin, dirty: true) }
        try cache.flushAll()
        let reread = try cache.withPage(file, 3, forWrite: false) { $0.load(as: UInt64.self) }
        #expect(reread == 42)
    }

    @Test("a dirty victim that cannot be written (disk full) stays cached and another victim is chosen")
    func writeBackFailure() throws {
        let fs = SimulatedFileSystem()
        let cache = PageCache(budgetBytes: 16 * PageCache.pageSizeBytes)
        let file = try makeFile(fs, cache)
        for page in 0..<16 {
            try cache.withPage(file, Int64(page), forWrite: page < 8) { $0.storeBytes(of: UInt64(page), as: UInt64.self) }
        }
        fs.capacityBytes = 0
        // Clean pages 8…15 can be dropped; the dirty ones cannot be written and must survive.
        for page in 100..<104 { try cache.withPage(file, Int64(page), forWrite: false) { _ in () } }
        fs.capacityBytes = nil
        for page in 0..<8 {
            #expect(try cache.withPage(file, Int64(page), forWrite: false) { $0.load(as: UInt64.self) } == UInt64(page))
        }
    }
}

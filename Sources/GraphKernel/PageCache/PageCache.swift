import GraphValues

/// Page cache counters since the cache was created.
public struct PageCacheCounters: Sendable, Hashable {
    /// Page accesses served from memory.
    public var hits: Int64 = 0
    /// Page accesses that had to read the page from its file.
    public var faults: Int64 = 0
    /// Pages removed from memory to make room.
    public var evictions: Int64 = 0
    /// Dirty pages written back to their files (by eviction or checkpoint).
    public var flushes: Int64 = 0
    public var bytesRead: Int64 = 0
    public var bytesWritten: Int64 = 0
    /// Pages resident now, and the maximum the budget allows.
    public var residentPages: Int = 0
    public var maxPages: Int = 0

    public init() {}
}

/// A file registered with the page cache. The page table maps a page number to the frame holding it (-1 when not
/// resident); a flat array rather than a dictionary because it is consulted on every record access.
final class PagedFile: @unchecked Sendable {
    let id: Int32
    let path: String
    let file: StorageFile
    // Unchecked: only touched under the cache mutex; dynamic exclusivity checks cost more than the lookup itself.
    @exclusivity(unchecked) var pageTable: [Int32] = []
    /// A page of this file was written back since the checkpoint last forced it (under the cache mutex). Eviction
    /// writes dirty victims at any time; the next checkpoint must force the file even if none of its pages is dirty
    /// by then, or those writes could still be in the OS's cache when the checkpoint is recorded.
    var writtenSinceSync = false
    /// Pages that may hold data (under the cache mutex): the file's size when last looked at, or any page written
    /// through the cache since. A read of a page beyond it that is not resident is all zeros and is answered from
    /// the cache's zero page instead of being faulted in, so a damaged record pointing at an absurd id reads as a
    /// record not in use instead of growing the page table to that id or overflowing its file offset.
    var extentPages: Int64 = 0

    init(id: Int32, path: String, file: StorageFile) {
        self.id = id
        self.path = path
        self.file = file
    }
}

/// Page reads while `PageCache.withLockedAccess` holds the lock. A pointer is valid only until the next access
/// through the same value (that access may evict its page), so callers decode what they need before moving on.
struct LockedPageAccess {
    unowned(unsafe) let cache: PageCache

    @inline(__always)
    func record(_ store: RecordStore, _ id: Int64) throws -> UnsafeMutableRawPointer {
        guard id >= 0 else { throw RecordStore.negativeID(store.kind, id) }
        let perPage = Int64(store.recordsPerPage)
        return try cache.lockedPage(store.paged, id / perPage) + Int(id % perPage) * store.recordSize
    }
}

/// A pinned page: the cache will not evict it until `PageCache.unpin(_:)`.
struct PinnedPage {
    let frame: Int32
    let pointer: UnsafeMutableRawPointer
}

/// A fixed-budget cache of 8 KiB pages over the store files, with clock (second chance) eviction.
///
/// All bookkeeping is under one mutex; record accessors run their decode/encode closure while holding it, which
/// keeps a hit to one lock round trip plus an array lookup (no allocation). Frames are allocated lazily up to the
/// budget, so a large budget costs nothing until the store is that large. Dirty pages are written back on eviction
/// and at checkpoints; durability of committed data comes from the transaction log, which is forced before any
/// page it describes is changed (write-ahead rule), so writing back a page early is always safe.
final class PageCache: @unchecked Sendable {
    static let pageSizeBytes = 8192
    /// How far beyond a file's extent one write may land: 8 GiB of records, more than any transaction creates.
    static let maxGrowthPages: Int64 = 1 << 20
    /// The smallest useful cache: enough frames for every store file plus some working space.
    static let minimumFrames = 16

    let maxFrames: Int
    private let mutex = KernelMutex()
    @exclusivity(unchecked) private var frames: [UnsafeMutableRawPointer] = []
    /// The allocations frames are carved from, `framesPerSlab` frames each (fewer for the last one of a small
    /// budget). One 8 KiB allocation per frame interleaved the cache's long-lived pages with the heap's transient
    /// objects: after loading a large store the allocator's free lists were fragmented and every later
    /// allocation got slower (W2 at size M spent 21 % of its CPU in malloc, against 5 % at S). A 2 MiB slab is
    /// above the allocator's mmap threshold, so page memory is mapped apart from the heap.
    private var slabs: [UnsafeMutableRawPointer] = []
    private var framesLeftInSlab = 0
    static let framesPerSlab = 256
    @exclusivity(unchecked) private var frameFile: [Int32] = []
    @exclusivity(unchecked) private var framePage: [Int64] = []
    @exclusivity(unchecked) private var framePins: [Int32] = []
    @exclusivity(unchecked) private var frameDirty: [Bool] = []
    @exclusivity(unchecked) private var frameReferenced: [Bool] = []
    private var files: [PagedFile?] = []
    private var clockHand = 0
    @exclusivity(unchecked) private var counters = PageCacheCounters()

    /// All zeros, never written: what a read of a page beyond its file's extent sees (`PagedFile.extentPages`).
    private let zeroPage: UnsafeMutableRawPointer

    init(budgetBytes: Int) {
        maxFrames = max(Self.minimumFrames, budgetBytes / Self.pageSizeBytes)
        zeroPage = UnsafeMutableRawPointer.allocate(byteCount: Self.pageSizeBytes, alignment: 4096)
        zeroPage.initializeMemory(as: UInt8.self, repeating: 0, count: Self.pageSizeBytes)
    }

    deinit {
        for slab in slabs { slab.deallocate() }
        zeroPage.deallocate()
    }

    var stats: PageCacheCounters {
        mutex.withLock {
            var c = counters
            c.residentPages = frames.count - frameFile.lazy.filter { $0 < 0 }.count
            c.maxPages = maxFrames
            return c
        }
    }

    func register(path: String, file: StorageFile) -> PagedFile {
        mutex.withLock {
            let paged = PagedFile(id: Int32(files.count), path: path, file: file)
            files.append(paged)
            return paged
        }
    }

    /// Runs `body` with the page's memory while the cache lock is held. `forWrite` marks the page dirty.
    @inline(__always)
    func withPage<T>(
        _ file: PagedFile, _ page: Int64, forWrite: Bool, _ body: (UnsafeMutableRawPointer) throws -> T
    ) throws -> T {
        mutex.lock()
        defer { mutex.unlock() }
        let frame: Int
        if page < file.pageTable.count, file.pageTable[Int(page)] >= 0 {
            frame = Int(file.pageTable[Int(page)])
            counters.hits &+= 1
        } else {
            if !forWrite, try isBeyondExtent(file, page) { return try body(zeroPage) }
            frame = try fault(file, page)
        }
        frameReferenced[frame] = true
        if forWrite {
            frameDirty[frame] = true
            if page >= file.extentPages { file.extentPages = page + 1 }
        }
        return try body(frames[frame])
    }

    /// Runs `body` holding the cache lock once for many page accesses (a whole relationship chain, say): the hot
    /// read paths pay one lock round trip per batch instead of one per record.
    @inline(__always)
    func withLockedAccess<T>(_ body: (LockedPageAccess) throws -> T) throws -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body(LockedPageAccess(cache: self))
    }

    /// A page's memory for reading; the caller holds the lock (see `LockedPageAccess`).
    @inline(__always)
    fileprivate func lockedPage(_ file: PagedFile, _ page: Int64) throws -> UnsafeMutableRawPointer {
        let frame: Int
        if page < file.pageTable.count, file.pageTable[Int(page)] >= 0 {
            frame = Int(file.pageTable[Int(page)])
            counters.hits &+= 1
        } else {
            if try isBeyondExtent(file, page) { return zeroPage }
            frame = try fault(file, page)
        }
        frameReferenced[frame] = true
        return frames[frame]
    }

    /// Whether a page that is not resident lies beyond everything its file may hold (must hold the lock). Looks
    /// at the file's size again before saying so, since files can grow outside the cache (a store copy, say);
    /// that costs one `fstat` per such miss, and only reads of ids past the store's end take it.
    private func isBeyondExtent(_ file: PagedFile, _ page: Int64) throws -> Bool {
        guard page >= file.extentPages else { return false }
        let size = try file.file.size()
        let pages = (size + Int64(Self.pageSizeBytes) - 1) / Int64(Self.pageSizeBytes)
        if pages > file.extentPages { file.extentPages = pages }
        return page >= file.extentPages
    }

    /// Pins a page so it stays resident; the caller must `unpin` it. Used for multi-step work on one page.
    func pin(_ file: PagedFile, _ page: Int64) throws -> PinnedPage {
        try mutex.withLock {
            let frame: Int
            if page < file.pageTable.count, file.pageTable[Int(page)] >= 0 {
                frame = Int(file.pageTable[Int(page)])
                counters.hits &+= 1
            } else {
                frame = try fault(file, page)
            }
            framePins[frame] += 1
            frameReferenced[frame] = true
            if page >= file.extentPages { file.extentPages = page + 1 }
            return PinnedPage(frame: Int32(frame), pointer: frames[frame])
        }
    }

    func unpin(_ pinned: PinnedPage, dirty: Bool) {
        mutex.withLock {
            let frame = Int(pinned.frame)
            precondition(framePins[frame] > 0, "unpin of frame \(frame) that is not pinned")
            framePins[frame] -= 1
            if dirty { frameDirty[frame] = true }
        }
    }

    /// Loads `page` of `file` into a frame (must hold the lock).
    private func fault(_ file: PagedFile, _ page: Int64) throws -> Int {
        // Reads beyond the file's extent never get here. A write goes through an id the store allocated, so it
        // extends the file by at most what one transaction creates; a write far beyond means a damaged id was
        // written through, and must fail instead of growing the page table to it (or overflowing its offset).
        if page < 0 || page >= file.extentPages + Self.maxGrowthPages {
            _ = try isBeyondExtent(file, page)  // the file may have grown outside the cache
            guard page >= 0, page < file.extentPages + Self.maxGrowthPages else {
                throw DatabaseError(
                    .storageDamageDetected,
                    "Page \(page) of \(file.path) lies far beyond the file's end: a damaged record id was followed")
            }
        }
        counters.faults &+= 1
        let frame: Int
        if frames.count < maxFrames {
            if framesLeftInSlab == 0 {
                let count = min(Self.framesPerSlab, maxFrames - frames.count)
                slabs.append(UnsafeMutableRawPointer.allocate(byteCount: count * Self.pageSizeBytes, alignment: 4096))
                framesLeftInSlab = count
            }
            frames.append(slabs[slabs.count - 1] + (framesLeftInSlab - 1) * Self.pageSizeBytes)
            framesLeftInSlab -= 1
            frameFile.append(-1)
            framePage.append(-1)
            framePins.append(0)
            frameDirty.append(false)
            frameReferenced.append(false)
            frame = frames.count - 1
        } else {
            frame = try evictOne()
        }
        let buffer = UnsafeMutableRawBufferPointer(start: frames[frame], count: Self.pageSizeBytes)
        let n = try file.file.read(at: page * Int64(Self.pageSizeBytes), into: buffer)
        counters.bytesRead &+= Int64(n)
        if n < Self.pageSizeBytes {
            // Past the end of the file: new records read as zero (not in use).
            (buffer.baseAddress! + n).initializeMemory(as: UInt8.self, repeating: 0, count: Self.pageSizeBytes - n)
        }
        if Int(page) >= file.pageTable.count {
            file.pageTable.append(contentsOf: repeatElement(-1, count: Int(page) + 1 - file.pageTable.count))
        }
        file.pageTable[Int(page)] = Int32(frame)
        frameFile[frame] = file.id
        framePage[frame] = page
        frameDirty[frame] = false
        return frame
    }

    /// Clock sweep: skip pinned frames, give referenced frames a second chance, write back a dirty victim. A
    /// victim whose write-back fails (disk full) stays resident and dirty; the sweep moves on.
    private func evictOne() throws -> Int {
        var lastError: Error?
        for _ in 0..<(3 * frames.count) {
            let frame = clockHand
            clockHand = (clockHand + 1) % frames.count
            if framePins[frame] > 0 { continue }
            if frameReferenced[frame] {
                frameReferenced[frame] = false
                continue
            }
            if frameFile[frame] >= 0 {
                if frameDirty[frame] {
                    do {
                        try writeBack(frame)
                    } catch {
                        lastError = error
                        continue
                    }
                }
                files[Int(frameFile[frame])]!.pageTable[Int(framePage[frame])] = -1
                counters.evictions &+= 1
            }
            frameFile[frame] = -1
            framePage[frame] = -1
            return frame
        }
        if let error = lastError { throw error }
        throw DatabaseError(.outOfMemory, "Page cache exhausted: all \(frames.count) pages are pinned")
    }

    private func writeBack(_ frame: Int) throws {
        let file = files[Int(frameFile[frame])]!
        try file.file.write(
            at: framePage[frame] * Int64(Self.pageSizeBytes),
            from: UnsafeRawBufferPointer(start: frames[frame], count: Self.pageSizeBytes))
        frameDirty[frame] = false
        file.writtenSinceSync = true
        counters.flushes &+= 1
        counters.bytesWritten &+= Int64(Self.pageSizeBytes)
    }

    /// Dirty pages written back per hold of the cache lock in `flushAll`.
    static let flushBatchPages = 128

    /// Writes every dirty page back and forces the files (checkpoint). Pages of a file are written in page order.
    ///
    /// The lock is held for one batch of `flushBatchPages` write-backs at a time and not at all during the fsyncs,
    /// so readers (including Bolt reads answered on an event loop) wait at most for one batch, not for the whole
    /// checkpoint. Safe because a frame is re-checked under the lock before it is written: one that was evicted
    /// (and written back by the eviction) or reused for another page since the scan is skipped, and no write-back
    /// is lost, since eviction writes dirty pages itself. The caller (the checkpoint) holds the store's read lock,
    /// which every apply needs exclusively, so no page changes while this runs.
    func flushAll() throws {
        var dirty: [(file: Int32, page: Int64, frame: Int)] = mutex.withLock {
            var found: [(file: Int32, page: Int64, frame: Int)] = []
            for frame in 0..<frames.count where frameFile[frame] >= 0 && frameDirty[frame] {
                found.append((frameFile[frame], framePage[frame], frame))
            }
            return found
        }
        dirty.sort { ($0.file, $0.page) < ($1.file, $1.page) }
        var start = 0
        while start < dirty.count {
            let end = min(start + Self.flushBatchPages, dirty.count)
            try mutex.withLock {
                for (fileID, page, frame) in dirty[start..<end]
                where frameFile[frame] == fileID && framePage[frame] == page && frameDirty[frame] {
                    try writeBack(frame)
                }
            }
            start = end
        }
        // Every file with a page written back since it was last forced: by this flush, or by an eviction before or
        // during it (an eviction before the scan leaves no dirty page behind, but its write may still be only in the
        // OS's cache). The flag is cleared before the sync, so a write-back racing the sync sets it again and the
        // next checkpoint forces it; a failed sync sets it again for the files not yet forced.
        let toSync: [PagedFile] = mutex.withLock {
            let written = files.compactMap { $0 }.filter(\.writtenSinceSync)
            for file in written { file.writtenSinceSync = false }
            return written
        }
        for (index, file) in toSync.enumerated() {
            do {
                try file.file.sync()
            } catch {
                mutex.withLock { for file in toSync[index...] { file.writtenSinceSync = true } }
                throw error
            }
        }
    }

    /// Drops every page of every file without writing it (a simulated crash loses unflushed pages).
    func discardAll() {
        mutex.withLock {
            for frame in 0..<frames.count where frameFile[frame] >= 0 {
                files[Int(frameFile[frame])]!.pageTable[Int(framePage[frame])] = -1
                frameFile[frame] = -1
                framePage[frame] = -1
                frameDirty[frame] = false
            }
        }
    }

    /// Forgets every page of `file` (after it has been flushed or is to be rewritten).
    func dropPages(of file: PagedFile) {
        mutex.withLock {
            for frame in 0..<frames.count where frameFile[frame] == file.id {
                frameFile[frame] = -1
                framePage[frame] = -1
                frameDirty[frame] = false
            }
            file.pageTable = []
        }
    }
}

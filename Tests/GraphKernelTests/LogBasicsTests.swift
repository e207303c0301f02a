import GraphValues
import Testing

@testable import GraphKernel

@Suite("Transaction log basics")
struct LogBasicsTests {
    @Test("XXH64 matches the reference vectors")
    func xxhashVectors() {
        #expect(XXHash64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
    }

    @Test("a new log starts after tx 1 and appends consecutive, chained, durable transactions")
    func appendAndReopen() throws {
        let dir = LogTestDirectory()
        var headers: [TransactionHeader] = []
        do {
            let log = try TransactionLog(directory: dir.path, storeID: 42)
            #expect(log.lastCommittedTxID == TxID(1))
            for n in 0..<10 {
                headers.append(try log.append(payload: testPayload(n), masterServerID: 1, epoch: 7))
            }
            #expect(headers.map(\.txID.rawValue) == Array(2...11))
            #expect(headers[0].previousChecksum == 0)
            for (a, b) in zip(headers, headers.dropFirst()) { #expect(b.previousChecksum == a.checksum) }
            #expect(log.lastCommittedTxID == TxID(11))
            #expect(log.lastChecksum == headers.last!.checksum)
            try log.close()
        }
        let log = try TransactionLog(directory: dir.path, storeID: 42)
        #expect(log.lastCommittedTxID == TxID(11))
        #expect(log.lastChecksum == headers.last!.checksum)
        let read = try readAll(log, from: 2)
        #expect(read.map(\.header) == headers)
        #expect(read.map(\.payload) == (0..<10).map { testPayload($0) })
        let next = try log.append(payload: [1, 2, 3], masterServerID: 1, epoch: 7)
        #expect(next.txID == TxID(12))
        #expect(next.previousChecksum == headers.last!.checksum)
        try log.close()
    }
}

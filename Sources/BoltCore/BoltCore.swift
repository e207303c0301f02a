// BoltCore: the Bolt protocol without sockets.
//
// - `PackStreamEncoder` / `PackStreamDecoder`: PackStream v1 on NIOCore `ByteBuffer`, with the graph, temporal and
//   spatial structures of Bolt 4.4 and 5.x (see /work/shared/reference/bolt.md §3).
// - `BoltHandshake`: version negotiation (legacy 4-byte reply and manifest v1).
// - `BoltChunkDecoder` / `BoltChunkEncoder`: message framing.
// - `BoltRequest` / `BoltRequestDecoder`: the client messages.
// - `BoltConnectionStateMachine`: the server state machine as a pure value type.
// - `BoltResponseEncoder`: SUCCESS / RECORD / IGNORED / FAILURE in the format of the negotiated version.

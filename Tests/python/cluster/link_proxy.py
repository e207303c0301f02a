"""A TCP proxy between cluster members for the latency and one-way loss drills (issue 5, drill 4): `tc netem` does not
exist in this kernel, so delays and losses are made here, per directed link "member A → member B".

Every member listens on its own loopback ports and *advertises* a proxy port instead
(`ha.host.coordination.advertised_address`, `ha.host.data.advertised_address`); `ha.initial_hosts` lists the proxy
ports, so every coordination connection goes through this proxy. The proxy tells which member dialled a coordination
connection from the first frame on it, the dialler's hello, which carries its server id (wire layout:
docs/clustering-design.md, "Coordination over TCP"). Data-port connections carry no hello, so their delay is set per
destination member only ("*" as the source).

Coordination traffic is forwarded frame by frame (4-byte big-endian length, then the frame), so a blocked direction
drops whole frames (message loss, which the election is built to tolerate) and never leaves a torn frame behind; the
other direction of the same connection keeps flowing. Delays keep each direction's order: a frame is delivered at
max(arrival + delay + jitter, previous delivery)."""
import asyncio
import random
import threading
from dataclasses import dataclass

MAX_FRAME = 1 << 20  # far above the coordination protocol's 64 KiB limit; a larger length means garbage
HELLO = 1


@dataclass
class Policy:
    delay: float = 0.0  # seconds added to every frame or chunk
    jitter: float = 0.0  # up to this many more seconds, uniformly random
    blocked: bool = False  # drop everything sent this way


class LinkProxy:
    """Runs its own asyncio loop on a daemon thread; every public method is called from the test's thread."""

    def __init__(self, seed=None):
        self.random = random.Random(seed)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="link-proxy", daemon=True)
        self.policies = {}  # (source name, destination name) -> Policy; "*" as the source of data connections
        self.names = {}  # server id -> member name
        self.servers = []
        self.tasks = set()
        self.dropped = {}  # (source, destination) -> frames dropped
        self.forwarded = {}  # (source, destination) -> frames or chunks delivered
        self.started = False

    # MARK: - Set-up and tear-down

    def start(self):
        self.thread.start()
        self.started = True
        return self

    def _call(self, coroutine, timeout=10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def add_member(self, name, server_id, coordination_proxy_port, coordination_port, data_proxy_port=None,
                   data_port=None):
        """Listens on the member's advertised (proxy) ports and forwards to where it really listens."""
        self.names[server_id] = name
        self._call(self._listen(coordination_proxy_port, lambda r, w: self._coordination(name, coordination_port,
                                                                                         r, w)))
        if data_proxy_port is not None:
            self._call(self._listen(data_proxy_port, lambda r, w: self._data(name, data_port, r, w)))

    async def _listen(self, port, handler):
        async def accepted(reader, writer):
            task = asyncio.current_task()
            self.tasks.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()
                self.tasks.discard(task)
        self.servers.append(await asyncio.start_server(accepted, "127.0.0.1", port, reuse_address=True))

    def stop(self):
        if not self.started:
            return

        async def shutdown():
            for server in self.servers:
                server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.sleep(0)
        try:
            self._call(shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.started = False

    # MARK: - Link policies (any thread; a policy is replaced whole, never mutated, so readers see old or new)

    def policy(self, source, destination):
        return self.policies.get((source, destination)) or Policy()

    def set_latency(self, delay, jitter, names):
        """Every link between `names` (and every data connection to them) gets `delay` + up to `jitter` seconds."""
        pairs = [(a, b) for a in names for b in names if a != b]
        pairs += [("*", b) for b in names] + [(b, "*") for b in names]
        for a, b in pairs:
            self.policies[(a, b)] = Policy(delay, jitter, self.policy(a, b).blocked)

    def block(self, source, destination):
        """Coordination frames from `source` to `destination` are dropped; the reverse direction still flows."""
        current = self.policy(source, destination)
        self.policies[(source, destination)] = Policy(current.delay, current.jitter, True)

    def heal(self):
        """Unblocks every link (delays stay)."""
        for key, policy in list(self.policies.items()):
            self.policies[key] = Policy(policy.delay, policy.jitter, False)

    # MARK: - Forwarding

    async def _coordination(self, destination, port, reader, writer):
        first = await asyncio.wait_for(self._read_frame(reader), 30)
        if first is None:
            return
        source = self._hello_sender(first)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.gather(
                self._pump(reader, upstream_writer, source, destination, framed=True, first=first),
                self._pump(upstream_reader, writer, destination, source, framed=True))
        finally:
            upstream_writer.close()

    async def _data(self, destination, port, reader, writer):
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.gather(
                self._pump(reader, upstream_writer, "*", destination, framed=False),
                self._pump(upstream_reader, writer, destination, "*", framed=False))
        finally:
            upstream_writer.close()

    @staticmethod
    async def _read_frame(reader):
        try:
            header = await reader.readexactly(4)
        except asyncio.IncompleteReadError:
            return None
        length = int.from_bytes(header, "big")
        if length > MAX_FRAME:
            raise ConnectionError(f"frame length {length}")
        return header + await reader.readexactly(length)

    def _hello_sender(self, frame):
        """The member name of a hello's server id (layout: length, version, type, cluster name, i64 server id)."""
        if len(frame) < 8 or frame[5] != HELLO:
            return "?"
        name_length = int.from_bytes(frame[6:8], "big")
        offset = 8 + name_length
        if len(frame) < offset + 8:
            return "?"
        server_id = int.from_bytes(frame[offset:offset + 8], "big", signed=True)
        return self.names.get(server_id, f"server{server_id}")

    async def _pump(self, reader, writer, source, destination, framed, first=None):
        """Copies one direction, delaying or dropping as the (source, destination) policy says at each frame's
        arrival. Bounded: at most 256 frames wait, then the reader waits (TCP back-pressure)."""
        queue = asyncio.Queue(maxsize=256)
        key = (source, destination)

        async def read_side():
            last_delivery = 0.0
            pending = first
            while True:
                if pending is not None:
                    chunk, pending = pending, None
                elif framed:
                    chunk = await self._read_frame(reader)
                else:
                    chunk = await reader.read(1 << 16)
                if not chunk:
                    break
                policy = self.policy(source, destination)
                if policy.blocked:
                    self.dropped[key] = self.dropped.get(key, 0) + 1
                    continue
                at = self.loop.time() + policy.delay + self.random.uniform(0, policy.jitter)
                last_delivery = max(at, last_delivery)
                await queue.put((last_delivery, chunk))
            await queue.put(None)

        async def write_side():
            while True:
                item = await queue.get()
                if item is None:
                    break
                at, chunk = item
                wait = at - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()
                self.forwarded[key] = self.forwarded.get(key, 0) + 1
            # End of this direction: half-close so the peer sees EOF, as it would without the proxy.
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except OSError:
                pass

        reading = asyncio.ensure_future(read_side())
        try:
            await write_side()
        finally:
            reading.cancel()

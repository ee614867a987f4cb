"""A TCP proxy that delays every server-to-client chunk, to stand in for a distant server.

tc/netem is not available where the benchmarks run, so latency is added in user space: each
chunk the server sends is forwarded `delay` seconds after it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward each chunk `delay` seconds after it arrived, as a link with that latency would.

    Chunks are queued with their arrival time rather than slept on one by one, so two chunks
    that arrive together also leave together: latency, not a bandwidth limit.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, chunk))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait((loop.time() + delay, b""))

    receiving = asyncio.ensure_future(receive())
    try:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        receiving.cancel()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.write_eof()


class LatencyProxy:
    def __init__(self, listen: str, target: str, ports: list[int], delay: float) -> None:
        self.listen = listen
        self.target = target
        self.ports = ports
        self.delay = delay
        self._servers: list[asyncio.Server] = []

    async def __aenter__(self) -> LatencyProxy:
        for port in self.ports:
            server = await asyncio.start_server(
                lambda r, w, p=port: self._handle(r, w, p), self.listen, port
            )
            self._servers.append(server)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()

    async def _handle(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, port: int
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.target, port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            _pump(client_r, server_w, 0.0),
            _pump(server_r, client_w, self.delay),
        )
        for writer in (client_w, server_w):
            writer.close()

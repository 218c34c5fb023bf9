"""A WebSocket client on a bare socket, for what stock clients hide: the exact text of
each frame, and a client that stops reading (a small receive buffer, nothing read)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        head = bytes([0x81])  # FIN, text
        if len(data) < 126:
            head += bytes([0x80 | len(data)])
        else:
            head += bytes([0x80 | 126]) + struct.pack("!H", len(data))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(head + mask + masked)
        await self.writer.drain()

    async def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame (the server's are unmasked, unfragmented)."""
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    async def text(self) -> str:
        opcode, payload = await self.frame()
        assert opcode == 1, f"not a text frame: opcode {opcode}, {payload[:80]!r}"
        return payload.decode()

    def close(self) -> None:
        self.writer.close()


async def connect(
    host: str, key: str, *, receive_buffer: int | None = None, language: str | None = None
) -> RawSocket:
    """Open /graphql with graphql-transport-ws and send connection_init (not awaited)."""
    address, port = host.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connecting, so the window starts small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (address, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
    nonce = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /graphql HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n"
            + (f"Accept-Language: {language}\r\n" if language else "")
            + "\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    raw = RawSocket(reader, writer)
    await raw.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    return raw

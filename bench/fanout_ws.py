"""A minimal WebSocket client (RFC 6455) on `asyncio.Protocol`, for the fan-out bench's
many subscribers: cheaper per frame than a general-purpose library.

The opening handshake is one HTTP/1.1 Upgrade request (with a `Sec-WebSocket-Protocol`
and, when asked, a `permessage-deflate` offer); the answer must be a 101 whose
`Sec-WebSocket-Accept` matches the key sent. Frames from the client are masked text (or
control) frames, never compressed. Frames from the server are parsed in
`data_received`: FIN, RSV1 (a compressed message, when the extension was agreed),
opcode, 7/16/64-bit lengths, fragmented messages and their continuation frames; a ping
is answered with a pong, a close frame is recorded (code, reason) and echoed. Each
complete message is handed to `on_text` or `on_binary` with `time.perf_counter()` taken
when it was parsed; subclasses override the `on_*` hooks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import zlib
from typing import Any, cast

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"


class HandshakeError(Exception):
    pass


def mask(data: bytes, key: bytes) -> bytes:
    """XOR `data` with the 4-byte masking key, as one big-integer operation."""
    n = len(data)
    if not n:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little"
    )


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + mask(payload, key)


def accept_for(key: bytes) -> str:
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def parse_deflate(header: str) -> dict[str, str | None]:
    """The parameters of an agreed `permessage-deflate` (the only extension offered)."""
    if "," in header:
        raise HandshakeError(f"more than one extension agreed: {header!r}")
    name, *params = (part.strip() for part in header.split(";"))
    if name.lower() != "permessage-deflate":
        raise HandshakeError(f"extension not offered: {header!r}")
    agreed: dict[str, str | None] = {}
    known = {"server_no_context_takeover", "client_no_context_takeover"}
    known |= {"server_max_window_bits", "client_max_window_bits"}
    for param in params:
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if key not in known or key in agreed:
            raise HandshakeError(f"bad permessage-deflate parameter: {param!r}")
        agreed[key] = value.strip().strip('"') or None
    return agreed


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class WsProtocol(asyncio.Protocol):
    """One client connection. `opened` resolves after a valid 101; `lost` when the TCP
    connection is gone. `close_code`/`close_reason` hold the server's close frame."""

    def __init__(self, host: str, port: int, path: str, *, subprotocol: str, deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        self.request = (host, port, path, subprotocol, deflate)
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.opened.add_done_callback(_retrieved)  # a failed handshake nobody awaits
        self.lost: asyncio.Future[None] = loop.create_future()
        self.buffer = bytearray()
        self.upgraded = False
        self.compressed_ok = False  # permessage-deflate agreed
        self.no_takeover = False  # server_no_context_takeover agreed
        self.window_bits = 15
        self.inflater: Any = None
        self.inflated = 0  # compressed messages received
        self.fragments: list[bytes] = []
        self.message_opcode = 0  # 1 or 2 while a fragmented message is in progress
        self.message_compressed = False
        self.close_sent = False
        self.stopped = False  # failed, or the server's close frame read: parse no more
        self.close_code: int | None = None
        self.close_reason = ""

    # -- hooks ---------------------------------------------------------------------------
    def on_open(self) -> None:
        """After the 101 was checked."""

    def on_text(self, data: bytes, now: float) -> None:
        """A complete text message (inflated)."""

    def on_binary(self, data: bytes, now: float) -> None:
        """A complete binary message: never parsed."""

    def on_close(self, code: int, reason: str) -> None:
        """The server's close frame."""

    def on_error(self, reason: str) -> None:
        """A protocol violation by the server (the connection is then failed)."""

    def on_lost(self) -> None:
        """The TCP connection is gone."""

    # -- sending -------------------------------------------------------------------------
    def send_text(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        if self.transport is not None and not self.close_sent:
            self.transport.write(client_frame(1, data))

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        if self.transport is not None and not self.close_sent:
            self.close_sent = True
            self.transport.write(client_frame(8, code.to_bytes(2, "big") + reason.encode()))

    async def close(self, code: int = 1000, grace: float = 10) -> None:
        """Send a close frame, then wait for the server to drop the connection."""
        if self.transport is None or self.lost.done():
            return
        self.send_close(code)
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), grace)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        if self.transport is not None and not self.lost.done():
            self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        host, port, path, subprotocol, deflate = self.request
        lines = [
            f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
            "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key.decode()}",
            "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Protocol: {subprotocol}",
        ]  # fmt: skip
        if deflate:
            lines.append(f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(f"connection lost in handshake: {exc!r}"))
        if not self.lost.done():
            self.lost.set_result(None)
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        if self.stopped:
            return
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 1 << 16:
                    self._fail_handshake("no end to the 101's headers")
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            try:
                self._check_upgrade(head)
            except HandshakeError as error:
                self._fail_handshake(str(error))
                return
            self.upgraded = True
            self.opened.set_result(None)
            self.on_open()
        self._frames()

    # -- the handshake -------------------------------------------------------------------
    def _check_upgrade(self, head: bytes) -> None:
        status, *lines = head.decode("latin-1").split("\r\n")
        if status.split(" ", 2)[1:2] != ["101"]:
            raise HandshakeError(f"not upgraded: {status!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()  # fmt: skip
        if headers.get("upgrade", "").lower() != "websocket":
            raise HandshakeError(f"Upgrade: {headers.get('upgrade')!r}")
        if "upgrade" not in (t.strip().lower() for t in headers.get("connection", "").split(",")):
            raise HandshakeError(f"Connection: {headers.get('connection')!r}")
        if headers.get("sec-websocket-accept") != accept_for(self.key):
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        subprotocol, deflate = self.request[3], self.request[4]
        if headers.get("sec-websocket-protocol") != subprotocol:
            raise HandshakeError(f"subprotocol {headers.get('sec-websocket-protocol')!r}")
        if "sec-websocket-extensions" in headers:
            if not deflate:
                raise HandshakeError("an extension agreed that was not offered")
            agreed = parse_deflate(headers["sec-websocket-extensions"])
            self.compressed_ok = True
            self.no_takeover = "server_no_context_takeover" in agreed
            bits = agreed.get("server_max_window_bits")
            if bits is not None:
                if not bits.isdigit() or not 8 <= int(bits) <= 15:
                    raise HandshakeError(f"server_max_window_bits={bits!r}")
                self.window_bits = max(9, int(bits))  # zlib: 8 means 9

    def _fail_handshake(self, reason: str) -> None:
        self.stopped = True
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        self.abort()

    # -- frames --------------------------------------------------------------------------
    def _frames(self) -> None:
        buf = self.buffer
        pos, end = 0, len(buf)
        while end - pos >= 2 and not self.stopped:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if b1 & 0x80:
                self._fail("a masked frame from the server")
                break
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0, payload)
        del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        fin, rsv, opcode = b0 & 0x80, b0 & 0x70, b0 & 0x0F
        if opcode >= 8:
            if not fin or rsv or len(payload) > 125:
                return self._fail(f"bad control frame (opcode {opcode})")
            if opcode == 9:
                if self.transport is not None and not self.close_sent:
                    self.transport.write(client_frame(10, payload))
            elif opcode == 8:
                self._closing(payload)
            elif opcode != 10:
                self._fail(f"reserved opcode {opcode}")
            return None
        if rsv & ~(0x40 if self.compressed_ok else 0):
            return self._fail(f"reserved bits {rsv:#x}")
        if opcode == 0:
            if not self.message_opcode:
                return self._fail("a continuation frame outside a message")
            if rsv:
                return self._fail("RSV1 on a continuation frame")
        elif opcode in (1, 2):
            if self.message_opcode:
                return self._fail("a new message inside a fragmented one")
            self.message_opcode, self.message_compressed = opcode, bool(rsv)
        else:
            return self._fail(f"reserved opcode {opcode}")
        self.fragments.append(payload)
        if not fin:
            return None
        data = self.fragments[0] if len(self.fragments) == 1 else b"".join(self.fragments)
        opcode, compressed = self.message_opcode, self.message_compressed
        self.fragments, self.message_opcode = [], 0
        if compressed:
            self.inflated += 1
            data = self._inflate(data)  # binary too: the shared window must follow
        now = time.perf_counter()
        if opcode == 1:
            self.on_text(data, now)
        else:
            self.on_binary(data, now)
        return None

    def _inflate(self, data: bytes) -> bytes:
        if self.inflater is None or self.no_takeover:
            self.inflater = zlib.decompressobj(-self.window_bits)
        try:
            return bytes(self.inflater.decompress(data + b"\x00\x00\xff\xff"))
        except zlib.error as error:
            self._fail(f"inflate: {error}", 1007)
            return b""

    def _closing(self, payload: bytes) -> None:
        if len(payload) == 1:
            return self._fail("a 1-byte close payload")
        self.close_code = int.from_bytes(payload[:2], "big") if payload else 1005
        self.close_reason = payload[2:].decode("utf-8", "replace")
        self.stopped = True
        if self.transport is not None and not self.close_sent:
            self.close_sent = True  # echo the code; the server drops the TCP connection
            self.transport.write(client_frame(8, payload[:2]))
        self.on_close(self.close_code, self.close_reason)
        asyncio.get_running_loop().call_later(2, self.abort)  # if the server does not
        return None

    def _fail(self, reason: str, code: int = 1002) -> None:
        self.stopped = True
        self.on_error(reason)
        self.send_close(code)
        self.abort()

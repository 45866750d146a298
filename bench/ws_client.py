"""A minimal asyncio websocket client (RFC 6455) for the broadcast benchmark: handshake, masked text frames out,
unfragmented or fragmented text frames in, pings answered. No dependency beyond the standard library, and little
work per message, so that what the benchmark measures is the server."""

import asyncio
import base64
import contextlib
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    def __init__(self, code: int | None):
        super().__init__(code)
        self.code = code


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str, headers: dict[str, str] | None = None) -> "WebSocket":
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if head[0].split(" ")[1:2] != ["101"] or fields.get("sec-websocket-accept") != accept:
            writer.close()
            raise ConnectionError(f"handshake refused: {head[0]}")
        return cls(reader, writer)

    def _frame(self, opcode: int, data: bytes) -> bytes:
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return header + mask + masked

    async def send(self, text: str) -> None:
        self.writer.write(self._frame(0x1, text.encode()))
        await self.writer.drain()

    async def recv(self) -> str:
        """The next text message; raises Closed on a close frame or EOF."""
        parts: list[bytes] = []
        while True:
            try:
                b0, b1 = await self.reader.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
                mask = await self.reader.readexactly(4) if b1 & 0x80 else None
                data = await self.reader.readexactly(n)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise Closed(None) from None
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise Closed(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None)
            if opcode == 0x9:
                self.writer.write(self._frame(0xA, data))
                continue
            if opcode == 0xA:
                continue
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()

    async def close(self) -> None:
        if not self.writer.is_closing():
            try:
                self.writer.write(self._frame(0x8, struct.pack("!H", 1000)))
                await self.writer.drain()
            except ConnectionError:
                pass
            self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

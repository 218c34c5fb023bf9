"""A connection's outbox (api/live_groups.py): written at once while the socket takes
it, in order behind a send that waits, bounded, and dropping what an ended operation
left unsent."""

from __future__ import annotations

import asyncio

from api.live_groups import MESSAGE_OVERHEAD, Outbox


class Socket:
    """A socket whose sends complete at once until `stall()`, then wait for `drain()`."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.gone = False

    async def send_text(self, text: str) -> None:
        await self.writable.wait()  # as uvicorn does
        if self.gone:
            raise ConnectionResetError("gone")
        self.written.append(text)

    def stall(self) -> None:
        self.writable.clear()

    def drain(self) -> None:
        self.writable.set()


async def test_a_writable_socket_is_written_at_once_without_a_task() -> None:
    socket = Socket()
    outbox = Outbox(socket.send_text, 1024, lambda: None)
    for n in range(5):
        outbox.put(f"m{n}")
    assert socket.written == ["m0", "m1", "m2", "m3", "m4"]  # before any await
    assert outbox._writer is None


async def test_behind_a_waiting_send_messages_queue_and_keep_their_order() -> None:
    socket = Socket()
    outbox = Outbox(socket.send_text, 1024, lambda: None)
    outbox.put("a")
    socket.stall()
    for text in ("b", "c", "d"):
        outbox.put(text)
    assert socket.written == ["a"]
    socket.drain()
    await outbox.flush(seconds=5)
    assert socket.written == ["a", "b", "c", "d"]
    assert outbox._writer is None
    outbox.put("e")  # writable again: at once
    assert socket.written[-1] == "e"


async def test_past_the_limit_the_outbox_overflows_once_and_sends_nothing_more() -> None:
    socket = Socket()
    overflows: list[int] = []
    outbox = Outbox(socket.send_text, 3 * (10 + MESSAGE_OVERHEAD), lambda: overflows.append(1))
    socket.stall()
    outbox.put("x" * 10)  # waits in the socket
    for _ in range(3):  # three fit behind it
        outbox.put("y" * 10)
    assert overflows == []
    outbox.put("z" * 10)
    assert overflows == [1] and outbox.closed
    outbox.put("after")
    socket.drain()
    await asyncio.sleep(0)
    assert "after" not in socket.written and overflows == [1]


async def test_a_large_message_alone_is_not_an_overflow() -> None:
    socket = Socket()
    overflows: list[int] = []
    outbox = Outbox(socket.send_text, 100, lambda: overflows.append(1))
    socket.stall()
    outbox.put("x" * 10_000)  # nothing waits behind it
    assert overflows == []
    socket.drain()
    await outbox.flush(seconds=5)
    assert socket.written == ["x" * 10_000]


async def test_an_ended_operation_drops_only_its_own_waiting_messages() -> None:
    socket = Socket()
    outbox = Outbox(socket.send_text, 10_000, lambda: None)
    socket.stall()
    outbox.put("first", "1")
    outbox.put("one", "1")
    outbox.put("two", "2")
    outbox.put("ack")
    outbox.discard("1")
    socket.drain()
    await outbox.flush(seconds=5)
    assert socket.written == ["first", "two", "ack"]  # "first" was being written


async def test_a_socket_gone_while_waiting_closes_the_outbox() -> None:
    socket = Socket()
    outbox = Outbox(socket.send_text, 10_000, lambda: None)
    socket.stall()
    outbox.put("a")
    outbox.put("b")
    socket.gone = True
    socket.drain()
    await outbox.flush(seconds=5)
    assert outbox.closed and socket.written == []
    outbox.put("c")
    assert socket.written == []


async def test_stop_cancels_a_waiting_send() -> None:
    socket = Socket()
    outbox = Outbox(socket.send_text, 10_000, lambda: None)
    socket.stall()
    outbox.put("a")
    writer = outbox._writer
    assert writer is not None
    outbox.stop()
    await asyncio.sleep(0)
    assert writer.cancelled() or writer.done()
    socket.drain()
    await asyncio.sleep(0)
    assert socket.written == []

"""A relay in front of the durable embedded broker, so that stopping it tears no request.

tansu 0.6 stores an idempotent produce in steps (the producer's sequence number, then the batch).
Stopped between them, it keeps the sequence number without the records, and answers the
producer's retry with DUPLICATE_SEQUENCE_NUMBER, which a Kafka producer takes as delivered: an
acknowledged batch is lost. The gate relays whole Kafka frames between the clients and tansu.
Closing it stops taking requests, waits until tansu has answered every request it was given, and
only then disconnects the clients: the broker is stopped idle, and the clients send what was not
taken again once the broker is back.
"""

import asyncio
import contextlib
import struct
import threading
from typing import NamedTuple

__all__ = ["Drained", "RequestGate", "expects_response"]

PRODUCE_API_KEY = 0
FIRST_PRODUCE_VERSION_WITH_TRANSACTIONAL_ID = 3
FIRST_FLEXIBLE_PRODUCE_VERSION = 9
REQUEST_HEADER = struct.Struct(">hhi")
FRAME_SIZE = struct.Struct(">i")
CORRELATION_ID = struct.Struct(">i")
INT16 = struct.Struct(">h")


class Drained(NamedTuple):
    """What closing the gate waited for."""

    requests_answered: int
    requests_unanswered: int


def _unsigned_varint(frame: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = frame[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _skip_tagged_fields(frame: bytes, offset: int) -> int:
    count, offset = _unsigned_varint(frame, offset)
    for _ in range(count):
        _, offset = _unsigned_varint(frame, offset)
        size, offset = _unsigned_varint(frame, offset)
        offset += size
    return offset


def expects_response(request: bytes) -> bool:
    """Whether the broker answers this request (a frame without its size): all but a produce with acks=0.
    A request too short to tell is taken as answered (the gate waits for it, up to its timeout)."""
    try:
        return _acks(request) != 0
    except (struct.error, IndexError):
        return True


def _acks(request: bytes) -> int:
    """The acks of a produce request; 1 (answered) for any other request."""
    api_key, api_version, _ = REQUEST_HEADER.unpack_from(request)
    if api_key != PRODUCE_API_KEY:
        return 1
    offset = REQUEST_HEADER.size
    (client_id_length,) = INT16.unpack_from(request, offset)
    offset += INT16.size + max(client_id_length, 0)
    if api_version >= FIRST_FLEXIBLE_PRODUCE_VERSION:
        offset = _skip_tagged_fields(request, offset)
        transactional_id_length_plus_one, offset = _unsigned_varint(request, offset)
        offset += max(transactional_id_length_plus_one - 1, 0)
    elif api_version >= FIRST_PRODUCE_VERSION_WITH_TRANSACTIONAL_ID:
        (transactional_id_length,) = INT16.unpack_from(request, offset)
        offset += INT16.size + max(transactional_id_length, 0)
    (acks,) = INT16.unpack_from(request, offset)
    return acks


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = await reader.readexactly(FRAME_SIZE.size)
    return size + await reader.readexactly(FRAME_SIZE.unpack(size)[0])


class _Link:
    """One client's connection and the gate's connection to the broker for it."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        broker: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.client_reader, self.client_writer = client
        self.broker_reader, self.broker_writer = broker
        self.unanswered: set[int] = set()
        self.client_gone = False
        self.requests: asyncio.Task | None = None
        self.responses: asyncio.Task | None = None
        self.relay = asyncio.current_task()

    def tasks(self) -> list[asyncio.Task]:
        return [task for task in (self.requests, self.responses, self.relay) if task is not None]

    def close(self) -> None:
        for task in (self.requests, self.responses):
            if task is not None:
                task.cancel()
        self.client_writer.close()
        self.broker_writer.close()


class RequestGate:
    """Relays Kafka-protocol connections from 127.0.0.1:``port`` to the broker on 127.0.0.1:``broker_port``.

    It runs its own event loop in a thread, from ``open`` to ``close``; it can be opened again.
    """

    def __init__(self, port: int, broker_port: int) -> None:
        self.port = port
        self.broker_port = broker_port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._links: set[_Link] = set()
        self._closing = False
        self._answered_while_closing = 0
        self._quiet: asyncio.Event | None = None

    def open(self, timeout: float = 10.0) -> None:
        """Listen on the port; raise OSError if it cannot (the port is taken)."""
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ctr-request-gate", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout)
        except BaseException:
            self._stop_loop()
            raise

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    def close(self, timeout: float = 5.0) -> Drained:
        """Stop taking requests, wait up to ``timeout`` for the broker's answers to those it was given,
        then disconnect every client. Safe to call twice."""
        if self._loop is None:
            return Drained(0, 0)
        try:
            return asyncio.run_coroutine_threadsafe(self._drain(timeout), self._loop).result(timeout + 5)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join()
        loop.close()

    async def _drain(self, timeout: float) -> Drained:
        self._closing = True
        self._answered_while_closing = 0
        self._quiet = asyncio.Event()
        if self._server is not None:
            self._server.close()
        for link in self._links:
            if link.requests is not None:
                link.requests.cancel()
        self._note_answer()
        try:
            await asyncio.wait_for(self._quiet.wait(), timeout)
        except TimeoutError:
            pass
        unanswered = sum(len(link.unanswered) for link in self._links)
        links, self._links = self._links, set()
        for link in links:
            link.close()
        await asyncio.gather(*(task for link in links for task in link.tasks()), return_exceptions=True)
        return Drained(self._answered_while_closing, unanswered)

    def _note_answer(self) -> None:
        if self._closing and self._quiet is not None and not any(link.unanswered for link in self._links):
            self._quiet.set()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._closing:
            client_writer.close()
            return
        try:
            broker = await asyncio.open_connection("127.0.0.1", self.broker_port)
        except OSError:
            client_writer.close()
            return
        link = _Link((client_reader, client_writer), broker)
        self._links.add(link)
        link.requests = asyncio.ensure_future(self._requests(link))
        link.responses = asyncio.ensure_future(self._responses(link))
        await asyncio.wait({link.requests, link.responses}, return_when=asyncio.FIRST_COMPLETED)
        if link.requests.done() and link.unanswered and not self._closing:
            link.client_gone = True
            with contextlib.suppress(asyncio.CancelledError):
                await link.responses
        if not self._closing:
            link.close()
            self._links.discard(link)

    async def _requests(self, link: _Link) -> None:
        """Relay the client's requests until it disconnects (or the gate closes)."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                request = await _read_frame(link.client_reader)
                if len(request) >= FRAME_SIZE.size + REQUEST_HEADER.size and expects_response(
                    request[FRAME_SIZE.size :]
                ):
                    _, _, correlation_id = REQUEST_HEADER.unpack_from(request, FRAME_SIZE.size)
                    link.unanswered.add(correlation_id)
                link.broker_writer.write(request)
                await link.broker_writer.drain()

    async def _responses(self, link: _Link) -> None:
        """Relay the broker's answers (matched to their requests by correlation id); those for a client
        that has gone are still awaited, then dropped."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                response = await _read_frame(link.broker_reader)
                correlation_id = (
                    CORRELATION_ID.unpack_from(response, FRAME_SIZE.size)[0]
                    if len(response) >= FRAME_SIZE.size + CORRELATION_ID.size
                    else None
                )
                if correlation_id in link.unanswered:
                    link.unanswered.remove(correlation_id)
                    if self._closing:
                        self._answered_while_closing += 1
                    self._note_answer()
                if link.client_gone and not link.unanswered:
                    break
                if not link.client_gone:
                    try:
                        link.client_writer.write(response)
                        await link.client_writer.drain()
                    except ConnectionError:
                        link.client_gone = True
        link.unanswered.clear()
        self._note_answer()

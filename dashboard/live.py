"""Server-Sent Events: stored events as they are committed, the live weight, the active
reminder and health, with keep-alive comments.

Each stream is a generator served by one WSGI thread, so streams are capped
(``max_streams``) and end after ``max_age_s`` (the browser's EventSource reconnects
by itself); :meth:`LiveHub.close` ends them all when the server stops.
"""

from __future__ import annotations

import json
import queue
import threading
import time

from dashboard.localtime import clock as clock_str


def sse(event: str | None, data) -> str:
    """One SSE message (``data`` as one line of JSON)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


class LiveHub:
    """Fans committed events out to open streams and builds each stream's messages."""

    def __init__(self, store, *, max_streams: int = 8, keepalive_s: float = 15.0, tick_s: float = 1.0,
                 max_age_s: float = 600.0):
        self.max_streams, self.keepalive_s, self.tick_s, self.max_age_s = max_streams, keepalive_s, tick_s, max_age_s
        self._queues: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        store.subscribe(self._publish)

    def _publish(self, event: dict) -> None:
        # Runs in the thread that stored the event (the bottle worker): never block it.
        with self._lock:
            queues = list(self._queues)
        for q in queues:
            try:
                q.put_nowait(event)
            except queue.Full:
                pass  # a stalled browser misses an event; its page reloads data on the next one

    def close(self) -> None:
        self._closed.set()

    @property
    def open_streams(self) -> int:
        return len(self._queues)

    def open(self) -> queue.Queue | None:
        """A queue for a new stream, or None when too many are open."""
        with self._lock:
            if len(self._queues) >= self.max_streams or self._closed.is_set():
                return None
            q: queue.Queue = queue.Queue(maxsize=256)
            self._queues.add(q)
            return q

    def release(self, q: queue.Queue) -> None:
        """Forget a stream's queue (idempotent; also when its generator never ran)."""
        with self._lock:
            self._queues.discard(q)

    def stream(self, q: queue.Queue, state, tz, gone=None):
        """Yield SSE text until the hub closes, the stream ages out or the client goes.

        ``state()`` returns ``{"weight": ..., "reminder": ..., "health": ...}``; each part
        is sent when it changes. ``gone()`` (waitress's ``client_disconnected``) ends the
        stream as soon as the browser leaves, freeing its thread.
        """
        try:
            yield "retry: 3000\n\n"
            last: dict[str, str] = {}
            started = last_sent = time.monotonic()
            while not self._closed.is_set():
                now = time.monotonic()
                if now - started > self.max_age_s or (gone is not None and gone()):
                    break
                chunks = []
                for name, value in state().items():
                    text = json.dumps(value, sort_keys=True)
                    if last.get(name) != text:
                        last[name] = text
                        chunks.append(sse(name, value))
                try:
                    event = q.get(timeout=self.tick_s)
                    while True:
                        t = event.get("t", event.get("start"))
                        chunks.append(sse("event", event | ({"time": clock_str(t, tz)} if t is not None else {})))
                        event = q.get_nowait()
                except queue.Empty:
                    pass
                if not chunks and time.monotonic() - last_sent >= self.keepalive_s:
                    chunks.append(": keep-alive\n\n")
                if chunks:
                    last_sent = time.monotonic()
                    yield "".join(chunks)
        finally:
            self.release(q)

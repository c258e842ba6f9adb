"""A small OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

`POST /v1/chat/completions` answers each request after `latency_s` with `n` deterministic choices
(text derived from the messages, seed and choice index; `usage` counts words as tokens), and
`GET /v1/models` lists one model. Faults are injected two ways:

- a script: `server.inject("500", "429", "timeout")` gives the next requests those faults, in order;
- rates: `FaultRates(error_500=0.1, ...)`, drawn per request from a seeded random generator.

Faults: "500", "503", "429" (with `Retry-After: retry_after_s` when that is set), "401", "timeout" (the
server sleeps `hang_s` before answering, so the client's timeout fires), "malformed" (HTTP 200 with
a body that is not a valid completion, three variants in turn). `max_choices` caps the choices
returned, like a server that ignores `n`. Every request body and its headers are kept in `requests`;
`connections` counts the connections accepted, `open_connections` those still open. `SimServer` answers as the `sim` backend would, so
a whole build can run through the `openai` backend.

HTTP/1.1 with keep-alive on plain asyncio streams (stdlib only, and about a quarter of the CPU a
request that uvicorn with h11 takes, which matters when the benchmark shares two cores with its
client). `with serve(latency_s=0.2) as server:` runs it in a background thread;
`python tests/openai_test_server.py --port 8011 --latency-s 0.2` runs it as its own process (the
benchmark does, so client and server do not share a GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Response = tuple[int, list[tuple[str, str]], bytes]  # status, extra headers, body
FAULTS = ("500", "503", "429", "401", "timeout", "malformed")
MALFORMED_BODIES = (b"{not json", b'{"id": "x", "object": "chat.completion"}',
                    b'{"id": "x", "choices": [{"index": 0, "finish_reason": "stop"}]}')


@dataclass
class FaultRates:
    """Chance per request of each fault (checked in this order; at most one fault a request)."""

    error_500: float = 0.0
    error_429: float = 0.0
    timeout: float = 0.0
    malformed: float = 0.0

    def draw(self, rng: random.Random) -> str | None:
        for fault, rate in (("500", self.error_500), ("429", self.error_429),
                            ("timeout", self.timeout), ("malformed", self.malformed)):
            if rate and rng.random() < rate:
                return fault
        return None


@dataclass
class TestServer:
    """The app and its knobs; tests change the knobs between calls."""

    __test__ = False  # not a pytest test class

    latency_s: float = 0.0
    rates: FaultRates = field(default_factory=FaultRates)
    retry_after_s: float | None = None
    hang_s: float = 30.0
    max_choices: int | None = None
    seed: int = 0
    model: str = "test-model"
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0  # client connections accepted
    open_connections: int = 0  # of those, not yet closed

    def __post_init__(self) -> None:
        self._script: collections.deque[str] = collections.deque()
        self._rng = random.Random(self.seed)
        self._malformed_turn = 0

    def inject(self, *faults: str) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        self._script.extend(faults)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests one after another until it closes."""
        self.connections += 1
        self.open_connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, extra, payload = await self.respond(method, path, headers, body)
                writer.write(_response(status, payload, extra))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client gave up (its timeout fired) or went away
        finally:
            self.open_connections -= 1
            writer.close()

    async def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if method == "GET" and path.endswith("/models"):
            return 200, [], json.dumps({"object": "list", "data": [{"id": self.model}]}).encode()
        if method != "POST" or not path.endswith("/chat/completions"):
            return 404, [], b'{"error": {"message": "not found"}}'
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._complete(headers, body)
        finally:
            self.in_flight -= 1

    async def _complete(self, headers: dict[str, str], body: bytes) -> Response:
        request = json.loads(body)
        self.requests.append({"body": request, "headers": headers})
        fault = self._script.popleft() if self._script else self.rates.draw(self._rng)
        self.outcomes[fault or "ok"] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault in ("500", "503"):
            return int(fault), [], b'{"error": {"message": "injected server error"}}'
        if fault == "429":
            extra = [] if self.retry_after_s is None else [("Retry-After", str(self.retry_after_s))]
            return 429, extra, b'{"error": {"message": "injected rate limit"}}'
        if fault == "401":
            return 401, [], b'{"error": {"message": "invalid api key"}}'
        if fault == "malformed":
            self._malformed_turn += 1
            return 200, [], MALFORMED_BODIES[self._malformed_turn % len(MALFORMED_BODIES)]
        if fault == "timeout":
            await asyncio.sleep(self.hang_s)
        return 200, [], json.dumps(self._completion(request)).encode()

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        n = int(request.get("n") or 1)
        if self.max_choices is not None:
            n = min(n, self.max_choices)
        max_tokens = int(request.get("max_tokens") or 10_000)
        prompt = json.dumps(request["messages"], sort_keys=True)
        salt = request.get("seed") if request.get("seed") is not None else f"call{len(self.requests)}"
        choices, completion_tokens = [], 0
        for index in range(n):
            digest = hashlib.sha256(f"{prompt}|{salt}|{index}".encode()).hexdigest()[:8]
            words = ["sample", digest, "of", str(index), "answers", r"\boxed{12}"]
            finish = "length" if len(words) > max_tokens else "stop"
            words = words[:max_tokens]
            text = " ".join(words)
            if request.get("response_format", {}).get("type") == "json_schema":
                text = json.dumps({"answer": text})
            completion_tokens += len(words)
            choices.append({"index": index, "finish_reason": finish,
                            "message": {"role": "assistant", "content": text}})
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request["messages"])
        return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
                "model": request.get("model", self.model), "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


@dataclass
class SimServer(TestServer):
    """Answers every chat completion as the `sim` backend would (same model name, seed and n), so a
    build through the `openai` backend can be compared with a build on `sim` directly."""

    __test__ = False

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        from pipeline.backends import Sampling
        from pipeline.backends.sim import SimBackend, count_tokens, prompt_text
        from pipeline.config import SimModel

        model = request.get("model", self.model)
        sampling = Sampling(n=int(request.get("n") or 1), max_tokens=int(request.get("max_tokens") or 4096),
                            seed=request.get("seed"))
        [completions] = SimBackend(SimModel(backend="sim", model=model)).generate([request["messages"]], sampling)
        choices = [{"index": i, "finish_reason": c.finish_reason, "message": {"role": "assistant", "content": c.text}}
                   for i, c in enumerate(completions)]
        prompt_tokens = count_tokens(prompt_text(request["messages"]))
        completion_tokens = sum(c.completion_tokens for c in completions)
        return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "model": model,
                "choices": choices, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                              "total_tokens": prompt_tokens + completion_tokens}}


REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def _response(status: int, payload: bytes, extra: list[tuple[str, str]]) -> bytes:
    head = [f"HTTP/1.1 {status} {REASONS[status]}", "Content-Type: application/json",
            f"Content-Length: {len(payload)}", *(f"{name}: {value}" for name, value in extra)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


async def _serve_forever(app: TestServer, sock: socket.socket, started: threading.Event | None = None,
                         stop: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(app.handle, sock=sock, backlog=1024)
    if started is not None:
        started.set()
    if stop is None:
        await server.serve_forever()
    else:
        await stop.wait()
        server.close()  # connection handlers still open are cancelled by `serve`


@contextlib.contextmanager
def serve(app_type: type[TestServer] = TestServer, **knobs: Any) -> Iterator[TestServer]:
    """Run an `app_type(**knobs)` (a `TestServer` or `SimServer`) on a free loopback port in a
    background thread."""
    app = app_type(**knobs)
    sock = listening_socket(0)
    app.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    loop = asyncio.new_event_loop()
    started, stop = threading.Event(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(_serve_forever(app, sock, started, stop),),
                              daemon=True)
    thread.start()
    if not started.wait(timeout=10):
        raise RuntimeError("test server failed to start")
    try:
        yield app
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        handlers = asyncio.all_tasks(loop)
        for task in handlers:
            task.cancel()
        if handlers:
            loop.run_until_complete(asyncio.gather(*handlers, return_exceptions=True))
        loop.close()
        sock.close()


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency-s", type=float, default=0.2)
    args = parser.parse_args()
    asyncio.run(_serve_forever(TestServer(latency_s=args.latency_s), listening_socket(args.port)))


if __name__ == "__main__":
    main()

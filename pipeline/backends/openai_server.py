"""The `openai` backend: any OpenAI-compatible chat-completions server (`vllm serve`, SGLang, hosted APIs).

Async under the hood: every `generate` call, from whichever thread, runs its requests on the
backend's one `RequestLoop` (an event loop in a daemon thread), so `max_concurrency` caps the requests
in flight to the server across all calls at once, connections are opened once and kept alive between
calls, and a calling thread that parses its answers leaves other calls' requests in flight. Each
request has a total deadline of `timeout_s` (waiting for a free slot does not count). Transient
failures (429, 5xx, timeouts, connection errors, malformed bodies) are retried `max_retries` times
with exponential backoff and jitter, waiting at least what `Retry-After` asks. A server that returns
fewer than `n` choices (some ignore `n`) is topped up with more requests. The API key comes from the
environment variable the config names and goes only into the Authorization header: never into a log
line or an error message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import functools
import json
import logging
import os
import random
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import certifi
import httpx

from pipeline.backends import BackendError, BackendUnavailable, Chat, Completion, Sampling, repeat_greedy
from pipeline.config import OpenAIModel

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUS = frozenset({408, 409, 425, 429})  # plus every 5xx
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer is not waited for beyond this
LANE_WIDTH = 8  # connections per httpx client; see Lanes


class MalformedBody(ValueError):
    """An HTTP 200 whose body is not a chat completion: retried like a 5xx."""


class OpenAIBackend:
    name = "openai"

    def __init__(self, config: OpenAIModel, *, backoff_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        self.config = config
        self.model = config.model
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        # Read once; kept out of repr and logs. A local server needs none, so absence is fine.
        self._api_key = os.environ.get(config.api_key_env) or None
        self._requests: RequestLoop | None = None  # started by the first generate()
        self._finalize: weakref.finalize | None = None
        self._closed = False
        self._opening = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, url={self.url!r})"

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        """`sampling.n` completions per prompt, in prompt order; safe to call from many threads at once."""
        requests = self._request_loop()
        return requests.run(self._generate(requests.lanes, prompts, sampling))

    def close(self) -> None:
        """Cancel the calls in flight (their callers get `BackendUnavailable`), close the connections and
        stop the loop thread. Final: a later `generate` raises `BackendUnavailable` rather than reopen."""
        with self._opening:
            self._closed = True
            finalize = self._finalize
        if finalize is not None:
            finalize()  # RequestLoop.close, at most once

    def _request_loop(self) -> RequestLoop:
        with self._opening:
            if self._closed:
                raise BackendUnavailable(f"openai backend: {self.url}: used after close()")
            if self._requests is None:
                # Loading CA certificates costs ~40 ms: once per process, and only for https.
                verify = tls_context() if self.url.startswith("https:") else False
                self._requests = RequestLoop(self.config.max_concurrency, self.config.timeout_s,
                                             self._headers(), verify)
                # A backend dropped without close() still stops its thread and connections.
                self._finalize = weakref.finalize(self, self._requests.close)
            return self._requests

    async def _generate(self, lanes: Lanes, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        tasks = [asyncio.create_task(self._answer(lanes, chat, sampling)) for chat in prompts]
        try:
            return list(await asyncio.gather(*tasks))
        finally:  # one prompt failed for good, or the caller gave up: stop the rest
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def _answer(self, lanes: Lanes, chat: Chat, sampling: Sampling) -> list[Completion]:
        """`sampling.n` completions of one prompt, topping up when the server returns fewer."""
        if sampling.temperature == 0 and sampling.n > 1:
            # Greedy: one answer, repeated (vllm serve refuses n > 1 without sampling).
            [one] = await self._answer(lanes, chat, replace(sampling, n=1))
            return repeat_greedy(one, sampling.n)
        completions: list[Completion] = []
        top_up = 0
        while len(completions) < sampling.n:
            want = sampling.n - len(completions)
            # A top-up with the same seed would repeat the samples we already have.
            seed = None if sampling.seed is None else sampling.seed + top_up
            completions += (await self._post(lanes, request_body(self.model, chat, sampling, want, seed)))[:want]
            top_up += 1
        return completions

    async def _post(self, lanes: Lanes, body: dict[str, Any]) -> list[Completion]:
        """POST one request with retries; the choices of the first good answer."""
        problem, unreachable = "", True
        for attempt in range(self.config.max_retries + 1):
            retry_after_s = None
            async with lanes.lane() as client:
                try:
                    async with asyncio.timeout(self.config.timeout_s):
                        response = await client.post(self.url, json=body)
                        content = await response.aread()
                except (TimeoutError, httpx.TimeoutException):
                    problem, unreachable = f"no answer within {self.config.timeout_s:g}s", False
                except httpx.TransportError as error:
                    problem = f"connection failed ({type(error).__name__})"
                else:
                    unreachable = False
                    status = response.status_code
                    if status == 200:
                        try:
                            return parse_completions(content, body["messages"])
                        except MalformedBody as error:
                            problem = f"malformed response body: {error}"
                    elif status in RETRY_STATUS or status >= 500:
                        problem = f"HTTP {status}"
                        retry_after_s = parse_retry_after(response.headers.get("retry-after"))
                    else:
                        raise self._final_error(status, content)
            if attempt < self.config.max_retries:
                delay_s = self._delay_s(attempt, retry_after_s)
                log.warning("openai backend: %s from %s; retry %d/%d in %.2fs",
                            problem, self.url, attempt + 1, self.config.max_retries, delay_s)
                await asyncio.sleep(delay_s)
        if unreachable:
            raise BackendUnavailable(f"openai backend: cannot reach {self.url}: {problem}")
        raise BackendError(f"openai backend: {problem} from {self.url} after {self.config.max_retries + 1} attempts")

    def _delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff with jitter (half fixed, half random), never shorter than Retry-After."""
        base = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        delay = base / 2 + random.uniform(0, base / 2)
        return max(delay, retry_after_s or 0.0)

    def _final_error(self, status: int, content: bytes) -> Exception:
        detail = content[:300].decode("utf-8", "replace").replace("\n", " ")
        if status in (401, 403):
            return BackendUnavailable(f"openai backend: {self.url} refused the API key from "
                                      f"${self.config.api_key_env} (HTTP {status})")
        if status == 404:
            return BackendUnavailable(f"openai backend: {self.url} not found (HTTP 404): check base_url "
                                      f"and model {self.model!r}: {detail}")
        return BackendError(f"openai backend: HTTP {status} from {self.url}: {detail}")


def reachability_problem(config: OpenAIModel, timeout_s: float = 10.0) -> str | None:
    """Why the server cannot be used, in one line, or None: one GET of `{base_url}/models`.

    Only a failed connection or a refused key count: a server without a /models route is fine.
    """
    url = config.base_url.rstrip("/") + "/models"
    key = os.environ.get(config.api_key_env)
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=timeout_s)
    except httpx.HTTPError as error:
        return f"openai backend: cannot reach {config.base_url}: {type(error).__name__}: {error}"
    if response.status_code in (401, 403):
        return f"openai backend: {config.base_url} refused the API key from ${config.api_key_env} (HTTP {response.status_code})"
    return None


class RequestLoop:
    """An event loop in a daemon thread, with `Lanes` of at most `cap` requests in flight.

    Callers in any thread hand it coroutines with `run`, which blocks until the coroutine is done.
    A caller that is interrupted (Ctrl-C) cancels its coroutine, so its requests stop too. `close`
    refuses new calls, cancels every call still running (each caller gets `BackendUnavailable`),
    closes the connections and stops the thread; a caller whose loop stopped without finishing its
    call notices within `POLL_S` and gets `BackendUnavailable` too, so no caller waits forever.
    """

    POLL_S = 0.5

    def __init__(self, cap: int, timeout_s: float, headers: dict[str, str], verify: ssl.SSLContext | bool) -> None:
        # asyncio queues and httpx clients bind to the loop that first uses them, so they are made here.
        self.lanes = Lanes(cap, timeout_s, headers, verify)
        self.loop = asyncio.new_event_loop()
        self.closed = False
        self._lock = threading.Lock()  # orders run()'s hand-over against close()
        self.thread = threading.Thread(target=self._serve, name="openai-requests", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("openai backend: generate() called on its own request loop would wait on itself")
        with self._lock:
            if self.closed:
                coroutine.close()
                raise BackendUnavailable(CLOSED)
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            while True:
                try:
                    return future.result(timeout=self.POLL_S)
                except TimeoutError:
                    if future.done():  # the coroutine itself raised TimeoutError
                        raise
                    if not self.thread.is_alive():
                        raise BackendUnavailable(CLOSED) from None
        except concurrent.futures.CancelledError:  # only close() cancels a call
            raise BackendUnavailable(CLOSED) from None
        except BaseException:
            future.cancel()  # no-op when it is done; stops its requests when the caller was interrupted
            raise

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if not self.thread.is_alive():
            return
        shutdown = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        # Stopped only once the shutdown is done and its caller told (stop() inside it would end the
        # loop before that news is delivered).
        shutdown.add_done_callback(lambda _: self.loop.call_soon_threadsafe(self.loop.stop))
        if threading.current_thread() is self.thread:
            return  # a finalizer run by the garbage collector on the loop itself: it stops after shutdown
        with contextlib.suppress(Exception):
            shutdown.result(timeout=10)
        with contextlib.suppress(RuntimeError):  # the loop thread already closed it
            self.loop.call_soon_threadsafe(self.loop.stop)  # in case shutdown did not finish in time
        self.thread.join(timeout=10)

    async def _shutdown(self) -> None:
        calls = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await self.lanes.aclose()


CLOSED = "openai backend: closed while this call's requests were in flight"


class Lanes:
    """`cap` request slots over a few small connection pools: at most `cap` requests in flight.

    One httpx pool with 64 connections spends most of its time scanning itself (httpcore's pool is
    quadratic in connections x waiters) and stalls requests for seconds; pools of `LANE_WIDTH`
    connections do not. A slot is taken from a queue holding each client once per connection, so a
    request always gets a client with a free connection, and the queue doubles as the semaphore.
    """

    def __init__(self, cap: int, timeout_s: float, headers: dict[str, str], verify: ssl.SSLContext | bool) -> None:
        width = min(cap, LANE_WIDTH)
        sizes = [width] * (cap // width) + ([cap % width] if cap % width else [])
        limits = [httpx.Limits(max_connections=size, max_keepalive_connections=size) for size in sizes]
        self.clients = [httpx.AsyncClient(headers=headers, limits=limit, timeout=timeout_s, verify=verify)
                        for limit in limits]
        self.free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for round_ in range(width):  # interleaved, so light load spreads over all clients
            for client, size in zip(self.clients, sizes, strict=True):
                if round_ < size:
                    self.free.put_nowait(client)

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        client = await self.free.get()
        try:
            yield client
        finally:
            self.free.put_nowait(client)

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))


def request_body(model: str, chat: Chat, sampling: Sampling, n: int, seed: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": list(chat), "n": n, "temperature": sampling.temperature,
                            "top_p": sampling.top_p, "max_tokens": sampling.max_tokens}
    if seed is not None:
        body["seed"] = seed
    if sampling.json_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": str(sampling.json_schema.get("title", "response")), "schema": sampling.json_schema}}
    return body


def parse_completions(content: bytes, chat: Chat) -> list[Completion]:
    """The choices of a chat-completion body; `usage` gives token counts where the server sends it."""
    try:
        data = json.loads(content)
    except ValueError:
        raise MalformedBody(f"not JSON: {content[:80]!r}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise MalformedBody("no choices")
    texts, finishes = [], []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise MalformedBody("a choice without a message")
        texts.append(message.get("content") or "")
        finishes.append(choice.get("finish_reason") or "stop")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = usage.get("prompt_tokens")
    if not isinstance(prompt_tokens, int):
        prompt_tokens = estimate_tokens("".join(m.get("content") or "" for m in chat))
    counts = split_tokens(usage.get("completion_tokens"), texts)
    return [Completion(t, f, prompt_tokens, c) for t, f, c in zip(texts, finishes, counts, strict=True)]


def split_tokens(total: Any, texts: list[str]) -> list[int]:
    """Per-choice completion tokens: `usage` gives one total for all n choices, shared by text length."""
    if not isinstance(total, int):
        return [estimate_tokens(t) for t in texts]
    chars = [len(t) for t in texts]
    if not sum(chars):
        chars = [1] * len(texts)
    counts = [total * c // sum(chars) for c in chars]
    counts[-1] += total - sum(counts)
    return counts


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)  # about 4 characters a token, for servers that send no usage


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


@functools.cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())



"""The `openai` backend, for real over loopback HTTP against tests/openai_test_server.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import threading
import time

import pytest
from openai_test_server import serve

from pipeline.backends import BackendError, BackendUnavailable, Sampling, make_backend, usage
from pipeline.backends.openai_server import OpenAIBackend, parse_retry_after, split_tokens
from pipeline.config import OpenAIModel

SECRET = "sk-test-DO-NOT-LOG-1234567890"


def chats(count: int) -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": "be brief"}, {"role": "user", "content": f"question {i} here"}]
            for i in range(count)]


def backend(server, **fields) -> OpenAIBackend:
    fields = {"max_retries": 3, "timeout_s": 5.0, **fields}
    config = OpenAIModel(backend="openai", model="test-model", base_url=server.base_url, **fields)
    return OpenAIBackend(config, backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def server():
    with serve() as running:
        yield running


def test_n_completions_per_prompt_in_input_order_with_usage_counts(server):
    out = backend(server).generate(chats(5), Sampling(n=3, temperature=0.7, top_p=0.9, max_tokens=50, seed=7))
    assert [len(group) for group in out] == [3] * 5
    bodies = [r["body"] for r in server.requests]
    assert {(b["n"], b["temperature"], b["top_p"], b["max_tokens"], b["seed"]) for b in bodies} == {(3, 0.7, 0.9, 50, 7)}
    # Answers come back in the order of the prompts, not of the (concurrent) responses.
    prompt_of = {b["messages"][1]["content"]: b for b in bodies}
    assert sorted(prompt_of) == sorted(f"question {i} here" for i in range(5))
    first = out[0][0]
    assert first.finish_reason == "stop" and first.text.endswith(r"\boxed{12}")
    # usage: prompt tokens = 5 words; 6 completion tokens per choice, split out of the total of 18.
    assert (first.prompt_tokens, first.completion_tokens) == (5, 6)
    assert sum(c.completion_tokens for c in out[0]) == 18
    assert len({c.text for c in out[0]}) == 3


def test_truncated_answers_report_length(server):
    out = backend(server).generate(chats(1), Sampling(n=1, max_tokens=2))
    assert out[0][0].finish_reason == "length" and len(out[0][0].text.split()) == 2


def test_greedy_asks_for_one_sample_and_repeats_it(server):
    out = backend(server).generate(chats(1), Sampling(n=3, temperature=0.0))
    assert [r["body"]["n"] for r in server.requests] == [1] and len({c.text for c in out[0]}) == 1
    assert len(out[0]) == 3
    # The model generated 6 tokens once: usage counts them once, not once per copy.
    assert [c.completion_tokens for c in out[0]] == [6, 0, 0] and usage(out)["completion_tokens"] == 6


def test_json_schema_is_sent_as_response_format(server):
    schema = {"title": "question", "type": "object", "properties": {"answer": {"type": "string"}}}
    backend(server).generate(chats(1), Sampling(json_schema=schema))
    assert server.requests[0]["body"]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "question", "schema": schema}}
    backend(server).generate(chats(1), Sampling())
    assert "response_format" not in server.requests[1]["body"] and "seed" not in server.requests[1]["body"]


def test_requests_in_flight_never_exceed_max_concurrency(server):
    server.latency_s = 0.05
    out = backend(server, max_concurrency=4).generate(chats(24), Sampling())
    assert len(out) == 24
    assert server.max_in_flight == 4


def test_sixty_four_requests_are_in_flight_at_once_against_a_slow_server(server):
    server.latency_s = 0.2
    out = backend(server, max_concurrency=64).generate(chats(128), Sampling())
    assert len(out) == 128 and server.max_in_flight == 64


def test_max_concurrency_caps_the_requests_of_all_concurrent_calls_together(server):
    server.latency_s = 0.05
    model = backend(server, max_concurrency=4)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda k: model.generate(chats(8 + k), Sampling()), range(6)))
    assert [len(out) for out in outs] == [8 + k for k in range(6)]
    assert server.max_in_flight == 4 and len(server.requests) == sum(8 + k for k in range(6))


def test_waiting_for_a_free_slot_does_not_count_against_the_timeout(server):
    server.latency_s = 0.3
    out = backend(server, max_concurrency=1, timeout_s=0.5).generate(chats(3), Sampling())  # 0.9 s in all
    assert len(out) == 3 and server.outcomes == {"ok": 3}  # no timeouts, no retries


def wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_connections_are_kept_alive_between_calls_and_closed_with_the_backend(server):
    model = backend(server, max_concurrency=2)
    for _ in range(5):
        model.generate(chats(4), Sampling())
    assert server.connections <= 2 and server.open_connections >= 1
    loop_thread = model._request_loop().thread
    model.close()
    assert not loop_thread.is_alive()
    wait_until(lambda: server.open_connections == 0)  # the server saw every connection close
    with pytest.raises(BackendUnavailable, match="used after close"):  # closed for good, not reopened
        model.generate(chats(1), Sampling())


def test_an_interrupted_caller_stops_its_requests(server):
    server.latency_s = 5.0
    model = backend(server, max_concurrency=8)

    def interrupt(*_):
        raise KeyboardInterrupt

    def interrupt_once_all_are_in_flight() -> None:
        wait_until(lambda: server.in_flight == 8)
        os.kill(os.getpid(), signal.SIGALRM)  # handled in the main thread, blocked in generate()

    previous = signal.signal(signal.SIGALRM, interrupt)
    threading.Thread(target=interrupt_once_all_are_in_flight, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.generate(chats(8), Sampling())
    finally:
        signal.signal(signal.SIGALRM, previous)

    async def calls_left() -> int:
        await asyncio.sleep(0.05)  # let the cancellations run
        return len(asyncio.all_tasks()) - 1

    assert model._request_loop().run(calls_left()) == 0
    model.close()


def test_closing_the_backend_ends_calls_in_flight_with_a_clear_error(server):
    server.latency_s = 5.0
    model = backend(server)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            model.generate(chats(4), Sampling())
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: server.in_flight == 4)
    model.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], BackendUnavailable)
    assert "closed while this call's requests were in flight" in str(errors[0])


def test_calls_racing_close_all_end_with_answers_or_a_clear_error(server):
    server.latency_s = 0.02
    model = backend(server, max_concurrency=4)
    outcomes: list[str] = []

    def caller() -> None:
        for _ in range(50):
            try:
                model.generate(chats(2), Sampling())
                outcomes.append("answered")
            except BackendUnavailable:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(outcomes) >= 8)
    model.close()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)  # nobody waits forever on a closed loop
    assert outcomes.count("closed") == 8


def test_generate_called_on_the_request_loop_itself_is_refused_not_deadlocked(server):
    model = backend(server)

    async def inside() -> object:
        return model.generate(chats(1), Sampling())

    with pytest.raises(RuntimeError, match="own request loop"):
        model._request_loop().run(inside())
    model.close()


def test_fewer_choices_than_n_are_topped_up_with_fresh_seeds(server):
    server.max_choices = 2
    out = backend(server).generate(chats(1), Sampling(n=5, seed=100))
    assert len(out[0]) == 5 and len({c.text for c in out[0]}) == 5
    assert [(r["body"]["n"], r["body"]["seed"]) for r in server.requests] == [(5, 100), (3, 101), (1, 102)]


@pytest.mark.parametrize("fault", ["500", "503", "429", "malformed", "timeout"])
def test_transient_faults_are_retried(server, fault):
    server.hang_s = 2.0
    server.inject(fault, fault)
    out = backend(server, timeout_s=0.3).generate(chats(1), Sampling(n=2))
    assert len(out[0]) == 2
    assert server.outcomes == {fault: 2, "ok": 1}


def test_every_malformed_body_variant_is_retried(server):
    server.inject("malformed", "malformed", "malformed")
    out = backend(server).generate(chats(1), Sampling())
    assert len(out[0]) == 1 and server.outcomes == {"malformed": 3, "ok": 1}


def test_retry_after_is_honoured(server):
    server.retry_after_s = 0.4
    server.inject("429")
    start = time.perf_counter()
    backend(server).generate(chats(1), Sampling())  # its own backoff would be at most 0.05 s
    assert time.perf_counter() - start >= 0.4
    assert parse_retry_after("2") == 2.0 and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_persistent_server_errors_raise_backend_error_after_retries(server):
    server.rates.error_500 = 1.0
    with pytest.raises(BackendError, match="HTTP 500 .* after 3 attempts"):
        backend(server, max_retries=2).generate(chats(3), Sampling())


def test_persistent_malformed_bodies_raise_backend_error(server):
    server.rates.malformed = 1.0
    with pytest.raises(BackendError, match="malformed response body"):
        backend(server, max_retries=1).generate(chats(1), Sampling())


def test_unreachable_server_is_one_clear_line_naming_the_url():
    config = OpenAIModel(backend="openai", model="m", base_url="http://127.0.0.1:9/v1", max_retries=1)
    with pytest.raises(BackendUnavailable) as caught:
        OpenAIBackend(config, backoff_s=0.01).generate(chats(2), Sampling())
    message = str(caught.value)
    assert "http://127.0.0.1:9/v1/chat/completions" in message and "\n" not in message


def test_api_key_is_sent_but_never_logged_or_shown(server, monkeypatch, caplog):
    monkeypatch.setenv("CURRICULUM_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    model = backend(server, api_key_env="CURRICULUM_TEST_KEY")
    server.inject("500", "429", "malformed")  # retries log warnings
    model.generate(chats(2), Sampling())
    assert {r["headers"]["authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
    server.rates.error_500 = 1.0
    with pytest.raises(BackendError) as caught:
        model.generate(chats(1), Sampling())
    assert caplog.records and SECRET not in caplog.text
    assert SECRET not in str(caught.value) and SECRET not in repr(model)


def test_refused_api_key_names_the_variable_not_the_key(server, monkeypatch):
    monkeypatch.setenv("CURRICULUM_TEST_KEY", SECRET)
    server.inject("401")
    with pytest.raises(BackendUnavailable, match=r"\$CURRICULUM_TEST_KEY \(HTTP 401\)") as caught:
        backend(server, api_key_env="CURRICULUM_TEST_KEY").generate(chats(1), Sampling())
    assert SECRET not in str(caught.value) and server.outcomes == {"401": 1}


def test_generate_works_from_a_thread_and_from_inside_an_event_loop(server):
    model = backend(server)
    results = []
    thread = threading.Thread(target=lambda: results.append(model.generate(chats(2), Sampling())))
    thread.start()
    thread.join()

    async def caller():
        return model.generate(chats(3), Sampling())

    assert len(results[0]) == 2 and len(asyncio.run(caller())) == 3


def test_make_backend_builds_the_openai_backend(server):
    model = make_backend(OpenAIModel(backend="openai", model="test-model", base_url=server.base_url))
    assert isinstance(model, OpenAIBackend) and model.generate(chats(1), Sampling())[0][0].text


def test_completion_tokens_are_shared_by_text_length_or_estimated():
    assert split_tokens(10, ["aaaa", "a"]) == [8, 2]
    assert split_tokens(3, ["", ""]) == [1, 2]
    assert split_tokens(None, ["a" * 40, ""]) == [10, 1]

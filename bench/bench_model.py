"""Benchmark of the department model: posts per second on one core, memory, event-loop lag.

Run ``python -m bench.bench_model`` (``--posts N`` to change the load). The process is pinned
to one core and the embedder to one thread (``TRIAGEBOT_EMBED_THREADS=1``, the default).
Posts are the evaluation set's texts, each made unique with a number, so nothing is cached.

- throughput: the router (shipped rules + model) over N posts, embedded in batches of 1, 8 and
  32 (``Router.prepare`` then ``decide``, as the pipeline does), per wall-clock second and per
  second of CPU time (the figure that holds on a shared, loaded machine);
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

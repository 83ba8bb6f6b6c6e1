"""A small HTTP/1.1 load generator for benchmarks/serve.py: `concurrency` keep-alive
connections on raw asyncio streams (uvloop), each sending the next request as soon as the last
answer is read, until `requests` answers; prints one JSON line with latency percentiles and
requests per second. Raw sockets keep the client's own cost far below a library's, which
matters when client and server share two cores.

    python benchmarks/_loadgen.py --port 8000 --path /v1/score --body body.json -c 32 -n 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np


async def worker(host: str, port: int, request: bytes, count: int, latencies: list[float],
                 statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run(host: str, port: int, path: str, body: bytes, concurrency: int, requests: int,
              warmup: int) -> dict:
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    await asyncio.gather(*(worker(host, port, request, warmup, [], {}) for _ in range(concurrency)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    per = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    start = time.perf_counter()
    await asyncio.gather(*(worker(host, port, request, n, latencies, statuses) for n in per))
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "concurrency": concurrency, "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "statuses": statuses}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/v1/score")
    p.add_argument("--body", required=True, help="file with the JSON body")
    p.add_argument("-c", "--concurrency", type=int, default=1)
    p.add_argument("-n", "--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=20, help="requests per connection before timing")
    a = p.parse_args()
    with open(a.body, "rb") as f:
        body = f.read()
    job = run(a.host, a.port, a.path, body, a.concurrency, a.requests, a.warmup)
    try:
        import uvloop

        result = uvloop.run(job)
    except ImportError:
        result = asyncio.run(job)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

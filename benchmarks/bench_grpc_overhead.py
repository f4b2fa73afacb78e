"""Server CPU per unary gRPC call through our server stack (ServiceServer: OpenTelemetry + ErrorMappingInterceptor).

    PYTHONPATH=.:gen/python python benchmarks/bench_grpc_overhead.py [--calls N] [--concurrency C] [--rounds R]

A server process runs ServiceServer with a stub RulesService whose IngestTradeEvents returns an empty reply at
once, tracing configured as the services configure it (an SDK TracerProvider, exporter "none"): what is left is
the cost of gRPC, the interceptors and the spans. This process is the client: C concurrent callers on one channel
send N calls (one small signed-looking event each, with the metadata the gateway sends), after a warm-up.

Three modes, alternated R times, each in a fresh server process:
- ``bare``: a plain grpc.aio server with the same servicer and no interceptors, the floor gRPC itself costs;
- ``traced``: ServiceServer, every call gets a server span (what every service did before `untraced_methods`);
- ``untraced``: ServiceServer with IngestTradeEvents in `untraced_methods`, as the rules service lists it.
(On code without `untraced_methods` that mode is left out.)

Then, in this process, ``error_interceptor_us_per_call``: ErrorMappingInterceptor alone, the handler lookup plus the
wrapped call around a servicer that returns at once, with a stand-in context carrying the same metadata (no gRPC,
no spans), best of R timings of N calls: the interceptor's own cost, which the server's figures are too noisy to
resolve on a shared machine.

Prints each run's calls/s and the server's CPU seconds (user + system, all its threads, read from /proc) per 1,000
calls, then ``grpc_server_cpu_ms_per_call_<mode>``: the median over the rounds, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

METHOD = "/dynasty.rules.v1.RulesService/IngestTradeEvents"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all threads (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def supports_untraced() -> bool:
    from libs.platform.grpc_server import ServiceServer

    return "untraced_methods" in inspect.signature(ServiceServer.__init__).parameters


# ---------------------------------------------------------------------------------------------------- server side


async def serve(mode: str) -> None:
    from dynasty.rules.v1 import rules_service_pb2, rules_service_pb2_grpc
    from libs.platform.grpc_server import ServiceServer
    from libs.platform.telemetry import configure_tracing

    configure_tracing("bench", "none")

    class Stub(rules_service_pb2_grpc.RulesServiceServicer):
        async def IngestTradeEvents(self, request, context):
            return rules_service_pb2.IngestTradeEventsResponse()

    def register(server):
        rules_service_pb2_grpc.add_RulesServiceServicer_to_server(Stub(), server)
        return ["dynasty.rules.v1.RulesService"]

    if mode == "bare":
        import grpc

        bare = grpc.aio.server()
        register(bare)
        port = bare.add_insecure_port("127.0.0.1:0")
        await bare.start()
        stop = lambda: bare.stop(0.5)  # noqa: E731
    else:
        extra = {"untraced_methods": [METHOD]} if mode == "untraced" else {}
        server = ServiceServer("rules", host="127.0.0.1", port=0, register=register, grace_seconds=0.5, **extra)
        await server.start()
        port, stop = server.port, server.stop
    print(json.dumps({"port": port}), flush=True)
    # Serve until the parent closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await stop()


# ---------------------------------------------------------------------------------------------------- client side


def _request():
    from dynasty.rules.v1 import rules_service_pb2

    body = json.dumps(
        {
            "id": f"evt-{uuid.uuid4().hex}",
            "type": "fill",
            "accountId": "acc-0001",
            "sequence": 1,
            "occurredAt": "2026-11-24T15:30:00.000Z",
            "data": {"symbol": "ESZ6", "side": "buy", "qty": 1, "price": "6012.25"},
        }
    ).encode()
    event = rules_service_pb2.PlatformEvent(body=body, signature="t=1764000000,v1=" + "ab" * 32)
    return rules_service_pb2.IngestTradeEventsRequest(events=[event])


async def drive(port: int, calls: int, concurrency: int) -> None:
    import grpc

    from dynasty.rules.v1 import rules_service_pb2_grpc

    request = _request()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = rules_service_pb2_grpc.RulesServiceStub(channel)
        remaining = calls

        async def worker(n: int) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                md = (("x-request-id", f"req-{n}-{remaining}"), ("x-dynasty-client-ip", "203.0.113.7"))
                await stub.IngestTradeEvents(request, metadata=md, timeout=10)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))


def one_run(mode: str, calls: int, concurrency: int, warmup: int) -> tuple[float, float]:
    """Returns (calls per second, server CPU seconds per 1,000 calls) for one fresh server."""
    args = [sys.executable, __file__, "--serve", mode]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(proc.stdout.readline())["port"]
        asyncio.run(drive(port, warmup, concurrency))
        cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
        asyncio.run(drive(port, calls, concurrency))
        elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(proc.pid) - cpu0
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return calls / elapsed, cpu / calls * 1000


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


class _Context:
    def __init__(self, metadata) -> None:
        self._md = metadata

    def invocation_metadata(self):
        return self._md


async def _time_interceptor(calls: int) -> float:
    """Microseconds per call of ErrorMappingInterceptor: intercept_service, then the wrapped unary handler."""
    import grpc

    from libs.platform.grpc_errors import ErrorMappingInterceptor

    async def behaviour(request, context):
        return request

    handler = grpc.unary_unary_rpc_method_handler(behaviour)

    async def continuation(details):
        return handler

    interceptor = ErrorMappingInterceptor("rules")
    details = _Details(METHOD)
    context = _Context((("x-request-id", "req-1"), ("x-dynasty-client-ip", "203.0.113.7"), ("user-agent", "grpc")))
    t0 = time.perf_counter()
    for _ in range(calls):
        wrapped = await interceptor.intercept_service(continuation, details)
        await wrapped.unary_unary(b"", context)
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--modes",
        default="bare,traced,untraced",
        help="comma-separated: bare, traced, untraced; empty for the interceptor alone",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return

    modes = [m for m in args.modes.split(",") if m and (m != "untraced" or supports_untraced())]
    if not set(modes) <= {"bare", "traced", "untraced"}:
        parser.error(f"unknown mode in --modes {args.modes!r}")
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes:
            rate, cpu_per_k = one_run(mode, args.calls, args.concurrency, args.warmup)
            results[mode].append((rate, cpu_per_k))
            print(f"round {r + 1} {mode:8s} {rate:8.0f} calls/s  server CPU {cpu_per_k:.3f} s per 1,000 calls")
    interceptor_us = min(asyncio.run(_time_interceptor(args.calls)) for _ in range(args.rounds))
    load = os.getloadavg()
    for mode in modes:
        rate = statistics.median(x[0] for x in results[mode])
        cpu = statistics.median(x[1] for x in results[mode])
        print(f"grpc_server_calls_per_second_{mode} {rate:.0f}")
        print(f"grpc_server_cpu_ms_per_call_{mode} {cpu:.3f}  (load average {load[0]:.2f} {load[1]:.2f})")
    print(f"error_interceptor_us_per_call {interceptor_us:.2f}")


if __name__ == "__main__":
    main()

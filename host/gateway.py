"""`python -m host.gateway --port /dev/ttyACM0`: latents from sensors in, predictions out.

    python -m host.gateway --port /dev/ttyACM0 --models artifacts
    python -m host.gateway --port socket://127.0.0.1:4321 --port /dev/ttyACM1 --out preds.jsonl --view
    python -m host.gateway --port socket://127.0.0.1:4321 --inject artifacts/default --windows 20

One JSON line per prediction on stdout (or --out): sensor, boot, frame and sample sequence numbers,
sample timestamp, model hash, class and probabilities, the most probable forest path and the
link-to-output latency; LOCAL_PREDICTION frames of a sensor in fallback mode are passed through
with "source": "sensor-fallback". Logs go to stderr. Ctrl-C stops cleanly with a summary.
Exit status: 0 after a clean stop, 1 when an --inject run could not finish, 2 on bad options.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from host.link import protocol_spec as P
from host.link.transport import DEFAULT_BAUD
from host.runtime.engine import RuntimeConfigError
from host.serving.inject import InjectError, Injector
from host.serving.model_store import ModelStore, StoreError

DEFAULT_MODELS = Path("artifacts")
INJECT_TIMEOUT_S = 600.0


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python -m host.gateway", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", action="append", required=True, metavar="PORT",
                    help="sensor port: device path, socket://host:port or rfc2217://host:port (repeatable)")
    ap.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"serial baud rate (default {DEFAULT_BAUD})")
    ap.add_argument("--models", type=Path, default=DEFAULT_MODELS,
                    help="an exported artifact, or a directory of them (default: artifacts)")
    ap.add_argument("--out", type=Path, help="write JSON Lines here instead of stdout")
    ap.add_argument("--leaves", choices=("float", "int8"), default="float",
                    help="leaf experts in float (numpy) or int8 (TFLite Micro; needs the int8 extra)")
    ap.add_argument("--top-k", type=int, help="evaluate only the k most probable leaves")
    ap.add_argument("--route-cache-ms", type=float,
                    help="reuse a sensor's routing probabilities for this long (sample time), e.g. 10")
    ap.add_argument("--view", action="store_true", help="live terminal view on stderr (rich)")
    ap.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (/metrics)")
    ap.add_argument("--metrics-addr", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    ap.add_argument("--inject", type=Path, metavar="ARTIFACT",
                    help="stream this artifact's test windows through each sensor (hardware-in-the-loop)")
    ap.add_argument("--windows", type=int, help="with --inject: only the first N test windows")
    ap.add_argument("--generator", type=int, metavar="PERIOD_US",
                    help="run each sensor's on-board sample generator at this period (stand-alone demo)")
    ap.add_argument("--duration", type=float, help="stop after this many seconds")
    ap.add_argument("--no-heartbeats", action="store_true",
                    help="send no heartbeats, so sensors switch to their fallback expert (to try fallback mode)")
    args = ap.parse_args(argv)
    if args.baud <= 0:
        ap.error(f"--baud {args.baud}: must be positive")
    if args.top_k is not None and args.top_k < 1:
        ap.error(f"--top-k {args.top_k}: must be at least 1")
    if args.route_cache_ms is not None and args.route_cache_ms <= 0:
        ap.error(f"--route-cache-ms {args.route_cache_ms}: must be positive")
    if args.windows is not None and (args.windows < 1 or args.inject is None):
        ap.error("--windows needs --inject and a count of at least 1")
    if args.generator is not None and (args.inject or args.generator < P.GENERATOR_MIN_PERIOD_US):
        ap.error(f"--generator needs a period of at least {P.GENERATOR_MIN_PERIOD_US} us and no --inject")
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        ap.error(f"--metrics-port {args.metrics_port}: not a TCP port")
    if len(set(args.port)) != len(args.port):
        ap.error("the same --port is given twice")
    return args


def fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = parse_args(argv)
    from host.serving.gateway import Gateway
    from host.serving.metrics import Metrics

    try:
        store = ModelStore(args.models, leaves=args.leaves, top_k=args.top_k)
        if args.leaves == "int8" or args.top_k:
            store.load_all()                             # options the models cannot honour fail now, not later
        injectors = [Injector.from_artifact(args.inject, args.windows) for _ in args.port] if args.inject else None
    except (StoreError, RuntimeConfigError, InjectError) as exc:
        return fail(str(exc))
    except Exception as exc:  # an artifact that does not load: one line, not a traceback
        from host.artifact import ArtifactError
        if isinstance(exc, ArtifactError):
            return fail(str(exc))
        raise
    try:
        out = open(args.out, "w") if args.out else sys.stdout
    except OSError as exc:
        return fail(f"--out {args.out}: {exc.strerror}")
    metrics = Metrics()
    if args.metrics_port is not None:
        try:
            metrics.serve(args.metrics_port, args.metrics_addr)
        except OSError as exc:
            return fail(f"--metrics-port {args.metrics_port}: {exc.strerror}")

    gw = Gateway(args.port, store, out, args.baud, metrics, args.route_cache_ms, injectors, args.generator)
    for s in gw.sessions:
        s.send_heartbeats = not args.no_heartbeats
    gw.log(f"models: {store.describe()}")
    for p in store.problems:
        gw.log(f"warning: {p}")
    if args.metrics_port is not None:
        gw.log(f"metrics at http://{args.metrics_addr}:{args.metrics_port}/metrics")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gw.start()
    status = 0
    deadline = time.monotonic() + (args.duration if args.duration else INJECT_TIMEOUT_S if args.inject else 1e12)
    view = None
    if args.view:
        from host.serving.view import LiveView
        view = LiveView(gw).__enter__()
    try:
        while not stop.is_set():
            stop.wait(0.25)
            if view:
                view.refresh()
            if args.inject and gw.injection_done():
                break
            if time.monotonic() > deadline:
                if args.inject:
                    limit = args.duration or INJECT_TIMEOUT_S
                    gw.log(f"error: the injection did not finish within {limit:.0f} s")
                    status = 1
                break
    except KeyboardInterrupt:
        pass
    finally:
        if view:
            view.__exit__(None, None, None)
        gw.stop()
        if args.out:
            out.close()
    print(gw.summary(), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

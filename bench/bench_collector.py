"""The collector's own cost: the pipeline Vigil generates against a hand-tuned minimal config.

Both run the same `otelcol-vigil` binary and export to the same destination (a second collector
on 127.0.0.1 that accepts and drops the data); `telemetrygen` sends the same load to each, one
after the other and alternating, and the collector under test is measured over the same window:
CPU (user + system) and mean RSS. The backend's accepted counts show both delivered the data.

- generated: what Vigil renders for a stack with one otlp sink taking traces, metrics and logs
  (memory_limiter, batch, health check, self metrics on :8888, OTLP gRPC and HTTP);
- minimal: OTLP gRPC receiver → batch → the same exporter, nothing else.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bench.report import Figure
from prometheus_client.parser import text_string_to_metric_families
from tests.harness.collector import binary as collector_binary
from tests.harness.collector import relocate_ports
from tests.harness.process import Process, start, wait_until
from tests.harness.tools import find, free_port
from tests.helpers import sink, stack

from vigil.pipeline import build_from_documents

# (figure key, label, telemetrygen command, its rate flags): --rate is items per second per worker
# (each span and each data point waits for the limiter), spread over workers so none sleeps < 1 ms.
LOADS = (
    ("spans_1k", "1k spans/s", "traces", ["--workers", "1", "--rate", "1000"]),
    ("spans_10k", "10k spans/s", "traces", ["--workers", "10", "--rate", "1000"]),
    ("points_10k", "10k metric points/s", "metrics", ["--workers", "10", "--rate", "1000"]),
)
WARMUP_S = 2.0
WINDOW_S = 10.0
REPEATS = 2


@dataclass
class Sample:
    cpu_s: float
    rss_mib: float
    accepted: float


@dataclass
class Result:
    samples: dict[str, dict[str, list[Sample]]] = field(default_factory=dict)
    """load key → config name → samples."""


def generated_config(backend: int) -> str:
    """Vigil's collector config for one otlp sink (traces, metrics, logs) to ``backend``."""
    build = build_from_documents(
        stack("bench", sinks={"names": ["backend"]}),
        [
            sink(
                "backend",
                signals=["traces", "metrics", "logs"],
                otlp={"endpoint": f"127.0.0.1:{backend}", "tls": {"insecure": True}},
            )
        ],
    )
    assert not isinstance(build, list), build
    assert build.config is not None, build.error
    return build.config.text


def minimal_config(grpc: int, backend: int) -> str:
    """The hand-tuned minimum for the same destination: receive, batch, export."""
    pipeline = {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp_grpc/backend"]}
    return yaml.safe_dump(
        {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc}"}}}},
            "processors": {"batch": {}},
            "exporters": {
                "otlp_grpc/backend": {
                    "endpoint": f"127.0.0.1:{backend}",
                    "compression": "gzip",
                    "timeout": "10s",
                    "tls": {"insecure": True},
                }
            },
            "service": {
                "pipelines": dict.fromkeys(("traces", "metrics", "logs"), pipeline),
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
            },
        }
    )


def backend_config(grpc: int, metrics: int) -> str:
    """The destination: accepts OTLP and drops it (the debug exporter logs nothing below warn)."""
    pipeline = {"receivers": ["otlp"], "exporters": ["debug"]}
    return yaml.safe_dump(
        {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc}"}}}},
            "exporters": {"debug": {"verbosity": "basic"}},
            "service": {
                "pipelines": dict.fromkeys(("traces", "metrics", "logs"), pipeline),
                "telemetry": {
                    "logs": {"level": "warn"},
                    "metrics": {
                        "level": "normal",
                        "readers": [{"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": metrics}}}}],
                    },
                },
            },
        }
    )


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def accepted(metrics_port: int) -> float:
    """Spans, points and log records the backend has accepted so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("otelcol_receiver_accepted_") and s.name.endswith("_total")
    )


def cpu_s(pid: int) -> float:
    """CPU time of every thread of ``pid`` in nanosecond resolution (schedstat), in seconds.

    At 1k spans/s the collector uses about 1 % of a core: clock ticks (10 ms) would be too coarse.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that exited meanwhile
    return total / 1e9


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(
    name: str, config: str, grpc: int, load: tuple[str, str, str, list[str]], work: Path, backend_metrics: int
) -> Sample:
    """Run the collector on ``config``, send ``load`` to ``grpc``, and measure it over the window."""
    path = work / f"{name}.yaml"
    path.write_text(config)
    tool = find("telemetrygen")
    assert tool is not None
    proc: Process = start(name, [str(collector_binary()), f"--config={path}"], work, env={"PATH": "/usr/bin:/bin"})
    sender: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: listening(grpc), 30, f"{name} listening on {grpc}", proc)
        _, _, command, rate = load
        duration = WARMUP_S + WINDOW_S + 1
        sender = subprocess.Popen(
            [
                str(tool),
                command,
                *rate,
                "--duration",
                f"{duration:.0f}s",
                "--otlp-endpoint",
                f"127.0.0.1:{grpc}",
                "--otlp-insecure",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(WARMUP_S)
        cpu0, got0 = cpu_s(proc.pid), accepted(backend_metrics)
        rss: list[float] = []
        end = time.monotonic() + WINDOW_S
        while time.monotonic() < end:
            rss.append(rss_mib(proc.pid))
            time.sleep(0.5)
        sample = Sample(cpu_s(proc.pid) - cpu0, statistics.mean(rss), accepted(backend_metrics) - got0)
        sender.wait(timeout=30)
        return sample
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        proc.stop()


def _drop_memory_limiter(config: str) -> str:
    doc = yaml.safe_load(config)
    del doc["processors"]["memory_limiter"]
    for pipeline in doc["service"]["pipelines"].values():
        pipeline["processors"] = [p for p in pipeline["processors"] if p != "memory_limiter"]
    return str(yaml.safe_dump(doc, sort_keys=False))


VARIANTS = {
    "without memory_limiter": _drop_memory_limiter,
    "without self metrics": lambda c: c.replace("level: normal", "level: none"),
}
"""Generated configs less one part, measured with --variants at the first load: what each part costs."""


def run(work: Path | None = None, variants: bool = False) -> list[Figure]:
    """The CPU and RSS ratios generated / minimal at each load (and of each variant at the first)."""
    work = work or Path(tempfile.mkdtemp(prefix="vigil-bench-collector-"))
    work.mkdir(parents=True, exist_ok=True)
    backend_grpc, backend_metrics = free_port(), free_port()
    backend = start(
        "backend",
        [
            str(collector_binary()),
            f"--config={_write(work / 'backend.yaml', backend_config(backend_grpc, backend_metrics))}",
        ],
        work,
        env={"PATH": "/usr/bin:/bin"},
    )
    result = Result()

    def configs(load_index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"generated": lambda c: c, "minimal": None}
        if variants and load_index == 0:
            out.update(VARIANTS)
        return out

    try:
        wait_until(lambda: listening(backend_grpc), 30, "the backend collector", backend)
        for index, load in enumerate(LOADS):
            names = configs(index)
            per = result.samples.setdefault(load[0], {name: [] for name in names})
            for rep in range(REPEATS):
                order = list(names) if rep % 2 == 0 else list(reversed(names))
                for name in order:
                    change = names[name]
                    if change is None:
                        port = free_port()
                        sample = measure(
                            "minimal", minimal_config(port, backend_grpc), port, load, work, backend_metrics
                        )
                    else:
                        text, ports = relocate_ports(change(generated_config(backend_grpc)))
                        sample = measure("generated", text, ports[4317], load, work, backend_metrics)
                    per[name].append(sample)
    finally:
        backend.stop()
    return figures(result)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def figures(result: Result) -> list[Figure]:
    out = []
    for key, label, _, _ in LOADS:
        per = result.samples[key]
        gen_cpu = statistics.median(s.cpu_s for s in per["generated"])
        min_cpu = statistics.median(s.cpu_s for s in per["minimal"])
        gen_rss = statistics.median(s.rss_mib for s in per["generated"])
        min_rss = statistics.median(s.rss_mib for s in per["minimal"])
        detail: dict[str, Any] = {
            name: [
                {"cpu_s": round(s.cpu_s, 3), "rss_mib": round(s.rss_mib, 1), "accepted": s.accepted} for s in samples
            ]
            for name, samples in per.items()
        }
        delivered = statistics.median(s.accepted for s in per["generated"]) / WINDOW_S
        out += [
            Figure(
                f"collector_cpu_{key}",
                f"collector CPU, generated / minimal, {label}",
                gen_cpu / min_cpu if min_cpu else None,
                "x",
                ("<=", 1.05),
                note=f"{100 * gen_cpu / WINDOW_S:.1f} % vs {100 * min_cpu / WINDOW_S:.1f} % of a core; "
                f"{delivered:.0f} items/s delivered",
                detail=detail,
            ),
            Figure(
                f"collector_rss_{key}",
                f"collector RSS, generated / minimal, {label}",
                gen_rss / min_rss if min_rss else None,
                "x",
                ("<=", 1.05),
                note=f"{gen_rss:.0f} MiB vs {min_rss:.0f} MiB",
            ),
        ]
        for name in per:
            if name in VARIANTS:
                cpu = statistics.median(s.cpu_s for s in per[name])
                out.append(
                    Figure(
                        f"collector_cpu_{key}_{name.replace(' ', '_')}",
                        f"collector CPU, generated {name} / minimal, {label}",
                        cpu / min_cpu if min_cpu else None,
                        "x",
                        note=f"{100 * cpu / WINDOW_S:.2f} % of a core",
                    )
                )
    return out

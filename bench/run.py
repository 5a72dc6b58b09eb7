"""`make bench`: every performance figure of issue #15 in one table, with its target, and as JSON.

    PYTHONPATH=operator:. .venv/bin/python -m bench.run [--stacks 1000] [--profile] [--skip collector,slo]

Parts: the operator on the local control plane (bench/bench_operator.py), the collector Vigil
generates against a minimal one under telemetrygen load (bench/bench_collector.py), and
`vigil render` of SLO policies against Sloth (bench/bench_slo.py). The table goes to stdout and
build/bench.json; the previous build/bench.json is shown beside it as "last run".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import bench_collector, bench_operator, bench_slo, profile
from bench.report import Figure, load_previous, table, write_json

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("operator", "collector", "slo")


def slo_figures(policies: int, work: Path) -> list[Figure]:
    """`vigil render` of ``policies`` SLOs in process against `sloth generate` of the same SLOs."""
    slos = bench_slo.cases(policies)
    vigil, _ = bench_slo.run_vigil(slos, work)
    binary, note = bench_slo.build_sloth(work)
    if binary is None:
        return [Figure("slo_speedup", f"Sloth / vigil render time, {policies} SLOs", None, "x", (">=", 3), note=note)]
    sloth = bench_slo.run_sloth(binary, slos, work)
    return [
        Figure(
            "slo_speedup",
            f"Sloth / vigil render time, {policies} SLOs",
            sloth.seconds / vigil.seconds,
            "x",
            (">=", 3),
            note=f"vigil {vigil.seconds:.2f} s ({vigil.rules} rules, promtool: {vigil.promtool}), "
            f"sloth {sloth.seconds:.2f} s ({sloth.rules} rules, promtool: {sloth.promtool})",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=200, help="stacks (and sinks) created at once")
    parser.add_argument("--rounds", type=int, default=15, help="latency samples")
    parser.add_argument("--secrets", type=int, default=1000, help="unrelated Secrets for the memory figure")
    parser.add_argument("--drift-interval", type=float, default=30.0, help="the operator's drift interval (s)")
    parser.add_argument("--policies", type=int, default=1000, help="SLO policies for the Sloth comparison")
    parser.add_argument("--profile", action="store_true", help="py-spy the operator while the stacks are created")
    parser.add_argument(
        "--variants", action="store_true", help="also the generated collector less memory_limiter, less self metrics"
    )
    parser.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench.json")
    args = parser.parse_args(argv)
    skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    unknown = skip - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    previous = load_previous(args.output)
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    figures: list[Figure] = []
    started = time.monotonic()
    breakdown: list[tuple[str, float]] = []
    requests: dict[str, float] = {}
    if "operator" not in skip:
        opts = bench_operator.Options(
            stacks=args.stacks,
            rounds=args.rounds,
            secrets=args.secrets,
            drift_interval=args.drift_interval,
            profile_to=args.output.with_name("bench-profile.raw") if args.profile else None,
        )
        result = bench_operator.run(opts, work / "operator")
        figures += result.figures
        breakdown, requests = result.breakdown, result.requests_per_stack
    if "collector" not in skip:
        figures += bench_collector.run(work / "collector", variants=args.variants)
    if "slo" not in skip:
        figures += slo_figures(args.policies, work)
    print(f"\nVigil benchmark ({time.monotonic() - started:.0f} s; work in {work})\n")
    print(table(figures, previous))
    if breakdown:
        print("\nWhere the operator's time went while the stacks were created (py-spy, active samples):")
        print(profile.text(breakdown))
    write_json(
        args.output,
        figures,
        {"args": {k: str(v) for k, v in vars(args).items()}, "profile": breakdown, "requests_per_stack": requests},
    )
    print(f"\nwritten to {args.output}")
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())

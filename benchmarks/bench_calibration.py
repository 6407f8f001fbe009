"""Calibration: how often the comparison calls an unchanged build worse, and how often it
catches a known change.

On the embedded backend, in one interleaved session (so machine drift falls on
every set alike), it records:

* calibration runs: canonical and legacy, from which ``goldenpath calibrate``
  measures run-to-run noise (legacy's failing runs are the only ones that show
  how rates vary);
* evaluation runs of one build (A/A, canonical), and of three known changes:
  +20 ms agent latency, about +10% on response p50 (+5 ms), and the legacy
  factory (the positive control for defects);
* *disturbed* runs of the same build: a neighbour's burst (twice as many
  spinning processes as CPUs, for a tenth of the run, in its middle) that a
  quiet calibration has never seen. Each is judged against each A/A run, both
  ways: a false alarm there is "a few slow seconds called a regression".

Then it compares, with that calibration, every 1-vs-1, 3-vs-1 (three baseline
runs, one candidate run: a pull request against a recorded baseline) and
3-vs-3 combination, and prints:

* the false-alarm rate: the share of A/A comparisons whose headline says worse
  or better, and the metrics that said so;
* the power: the share of comparisons with a known change judged worse;
* the same false alarms and power by rows alone (``Thresholds(time_blocks=False)``,
  the rule before time blocks), as the reference measured in the same session.

    .venv/bin/python benchmarks/bench_calibration.py [--seconds 15] [--write-default]

``--write-default`` also stores the calibration as the one shipped with
goldenpath (``analysis/default_calibration.json``). Exit 0 when the A/A
false-alarm rate is at most 5% everywhere and +20 ms is judged worse in at
least 95% of 1-vs-1 comparisons.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The scenario of `make demo` and `make baselines`: the same offered load on every build
# (80 golden paths/s from 50 users), a model that thinks for 50 ms.
SCENARIO = ["--model", "open", "--rate", "80", "--users", "50", "--response-timeout", "5s"]
BASE_THINK_MS = 50
CHANGES = {  # evaluation set -> (factory, agent think ms)
    "A/A": ("canonical", BASE_THINK_MS),
    "+20 ms agent": ("canonical", BASE_THINK_MS + 20),
    "+10% response p50": ("canonical", BASE_THINK_MS + 5),
    "legacy": ("legacy", BASE_THINK_MS),
}


DISTURBED = "disturbed A/A"
STARTUP_S = 3.0  # about how long `goldenpath run` takes to start its backend and users


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def run(
    out: Path, factory: str, think_ms: int, seconds: float, seed: int, disturb: bool = False
) -> None:
    cmd = [sys.executable, "-m", "loadtests.cli", "run", *SCENARIO, "--duration", f"{seconds:g}s",
           "--factory", factory, "--backend-setting", f"agent_think_ms={think_ms}",
           "--seed", str(seed), "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603
    spinners: list[multiprocessing.Process] = []
    try:
        if disturb:  # a neighbour's burst: a tenth of the run, in its middle
            time.sleep(STARTUP_S + 0.45 * seconds)
            n = 2 * (os.cpu_count() or 1)
            spinners = [
                multiprocessing.Process(target=_spin, args=(seconds / 10,)) for _ in range(n)
            ]
            for sp in spinners:
                sp.start()
            for sp in spinners:
                sp.join()
        err = proc.communicate(timeout=seconds + 180)[1]
    finally:
        for sp in spinners:
            if sp.is_alive():
                sp.terminate()
                sp.join()
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"run {out} failed: {err.strip()[-400:]}")


def plan(
    aa_runs: int, change_runs: int, cal_runs: int, cal_legacy: int, disturbed: int = 0
) -> list[tuple[str, int]]:
    """The runs, interleaved round by round: (set, index)."""
    order = []
    rounds = max(aa_runs, change_runs, cal_runs, cal_legacy, disturbed)
    for i in range(rounds):
        if i < cal_runs:
            order.append(("cal canonical", i))
        if i < cal_legacy:
            order.append(("cal legacy", i))
        if i < aa_runs:
            order.append(("A/A", i))
        for name in CHANGES:
            if name != "A/A" and i < change_runs:
                order.append((name, i))
        if i < disturbed:
            order.append((DISTURBED, i))
    return order


def combos(
    base: Sequence[Path], cand: Sequence[Path], kb: int, kc: int, same: bool
) -> list[tuple[tuple[Path, ...], tuple[Path, ...]]]:
    """Every (baseline group of kb runs, candidate group of kc runs), disjoint when ``same``."""
    out: list[tuple[tuple[Path, ...], tuple[Path, ...]]] = []
    for b in itertools.combinations(base, kb):
        pool = [p for p in cand if p not in b] if same else list(cand)
        if kb == kc == 1 and same:
            out += [(b, (c,)) for c in pool]  # ordered pairs
        else:
            out += [(b, c) for c in itertools.combinations(pool, kc)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="each run (default 15)")
    parser.add_argument("--aa-runs", type=int, default=6)
    parser.add_argument("--change-runs", type=int, default=3)
    parser.add_argument("--cal-runs", type=int, default=6, help="canonical calibration runs")
    parser.add_argument("--cal-legacy", type=int, default=3, help="legacy calibration runs")
    parser.add_argument("--disturbed", type=int, default=3, help="A/A runs with a CPU burst")
    parser.add_argument("--keep", type=Path, help="keep the runs in this directory")
    parser.add_argument("--write-default", action="store_true")
    args = parser.parse_args()

    from analysis.calibration import calibrate
    from analysis.compare import BETTER, WORSE, Thresholds, compare
    from analysis.load import load_group
    from analysis.summarize import summarize

    tmp = Path(tempfile.mkdtemp(prefix="gp-calibration-"))
    root = args.keep or tmp
    t0 = time.monotonic()
    try:
        runs: dict[str, list[Path]] = {}
        order = plan(args.aa_runs, args.change_runs, args.cal_runs, args.cal_legacy, args.disturbed)
        for n, (name, i) in enumerate(order, 1):
            disturb = name == DISTURBED
            factory, think = CHANGES.get(
                "A/A" if disturb else name, (name.split()[-1], BASE_THINK_MS)
            )
            out = root / name.replace("/", "").replace(" ", "-").replace("%", "pct") / f"run-{i}"
            print(f"[{n}/{len(order)}] {name} run {i + 1}: {factory}, agent {think} ms",
                  file=sys.stderr, flush=True)  # fmt: skip
            run(out, factory, think, args.seconds, seed=100 + n, disturb=disturb)
            runs.setdefault(name, []).append(out)
        print(f"runs done in {time.monotonic() - t0:.0f} s; comparing", file=sys.stderr)

        cal_builds = [summarize(load_group(runs["cal canonical"]))]
        if runs.get("cal legacy"):
            cal_builds.append(summarize(load_group(runs["cal legacy"])))
        cal = calibrate(cal_builds, source="benchmarks/bench_calibration.py")
        cal_path = root / "calibration.json"
        cal.write(cal_path)

        cache: dict[tuple[Path, ...], Any] = {}

        def summary(paths: tuple[Path, ...]) -> Any:
            if paths not in cache:
                cache[paths] = summarize(load_group(list(paths)))
            return cache[paths]

        aa = runs["A/A"]
        shapes = {"1 vs 1": (1, 1), "3 vs 1": (3, 1), "3 vs 3": (3, 3)}
        rules = {"time blocks": Thresholds(), "rows alone": Thresholds(time_blocks=False)}

        def pairs_of(
            name: str, kb: int, kc: int
        ) -> list[tuple[tuple[Path, ...], tuple[Path, ...]]]:
            if name == "A/A":
                return list(combos(aa, aa, kb, kc, True))
            out = list(combos(aa, runs[name], kb, kc, False))
            if name == DISTURBED and kb == kc == 1:  # a burst on either side
                out += [(c, b) for b, c in out]
            return out

        sets = [*CHANGES, *([DISTURBED] if runs.get(DISTURBED) else [])]
        results: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for rule, th in rules.items():
            results[rule] = {}
            for name in sets:
                results[rule][name] = {}
                for label, (kb, kc) in shapes.items():
                    pairs = pairs_of(name, kb, kc)
                    verdicts: Counter[str] = Counter()
                    metrics: Counter[str] = Counter()
                    for b, c in pairs:
                        cmp = compare(summary(b), summary(c), calibration=cal, thresholds=th)
                        verdicts[cmp.verdict.value] += 1
                        m = cmp.metrics
                        for _, r in m[m["verdict"].isin([WORSE, BETTER])].iterrows():
                            metrics[f"{r['name']} {r['metric']} {r['verdict']}"] += 1
                    results[rule][name][label] = {
                        "comparisons": len(pairs),
                        "verdicts": dict(verdicts),
                        "metrics": dict(metrics),
                    }
                    print(f"  {rule}: {name} {label}: {dict(verdicts)}", file=sys.stderr,
                          flush=True)  # fmt: skip
        # legacy against itself (its runs vary a lot): the calibration's rate model at work
        legacy_aa: Counter[str] = Counter()
        for b, c in combos(runs["legacy"], runs["legacy"], 1, 1, True):
            legacy_aa[compare(summary(b), summary(c), calibration=cal).verdict.value] += 1

        def share(
            name: str, label: str, words: Sequence[str], rule: str = "time blocks"
        ) -> tuple[int, int]:
            r = results[rule][name][label]
            return sum(r["verdicts"].get(w, 0) for w in words), r["comparisons"]

        def cells(counts: Sequence[tuple[int, int]]) -> str:
            return " | ".join(f"{k}/{n} ({k / n:.0%})" if n else "-" for k, n in counts)

        lines = ["| comparison | " + " | ".join(shapes) + " |", "|---|" + "---:|" * len(shapes)]
        alarms = {lab: share("A/A", lab, ["worse", "better"]) for lab in shapes}
        lines.append(
            f"| **A/A false alarms** (headline worse or better) | {cells(list(alarms.values()))} |"
        )
        same = [share("A/A", lab, ["no detectable change"]) for lab in shapes]
        lines.append(
            f"| A/A headline *no detectable change* (the rest *inconclusive*) | {cells(same)} |"
        )
        for name in CHANGES:
            if name != "A/A":
                power = [share(name, lab, ["worse"]) for lab in shapes]
                lines.append(f"| **power: {name}** (judged worse) | {cells(power)} |")
        if DISTURBED in sets:
            for rule in rules:
                alarmed = [share(DISTURBED, lab, ["worse", "better"], rule) for lab in shapes]
                label = (
                    "**A/A, one side disturbed: false alarms**"
                    if rule == "time blocks"
                    else ("the same, judged by rows alone (the rule before)")
                )
                lines.append(f"| {label} | {cells(alarmed)} |")
        for name in ("+10% response p50", "+20 ms agent"):
            power = [share(name, lab, ["worse"], "rows alone") for lab in shapes]
            lines.append(f"| power: {name}, judged by rows alone | {cells(power)} |")
        n_legacy = sum(legacy_aa.values())
        wrong = legacy_aa.get("worse", 0) + legacy_aa.get("better", 0)
        lines.append(f"| legacy A/A false alarms (1 vs 1) | {wrong}/{n_legacy} | | |")
        per_metric = Counter[str]()
        for lab in shapes:
            per_metric.update(results["time blocks"]["A/A"][lab]["metrics"])
        print("\n".join(lines))
        print("\nA/A metrics that said worse or better (all combinations):")
        for metric, k in per_metric.most_common(10) or [("none", 0)]:
            print(f"  {metric}: {k}")
        print(f"\n{cal.describe()}")
        print(f"{platform.machine()}, {platform.node()}, Python {platform.python_version()}; "
              f"{args.seconds:g} s runs, {len(order)} runs, {time.monotonic() - t0:.0f} s "
              "in all")  # fmt: skip
        (root / "results.json").write_text(json.dumps(results, indent=2))
        if args.write_default:
            shutil.copyfile(cal_path, ROOT / "analysis" / "default_calibration.json")
            print("wrote analysis/default_calibration.json")
        ok = all(k <= 0.05 * n for k, n in alarms.values())
        k20, n20 = share("+20 ms agent", "1 vs 1", ["worse"])
        return 0 if ok and k20 >= 0.95 * n20 else 1
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

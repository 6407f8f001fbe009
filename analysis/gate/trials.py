"""``goldenpath gate run``: smoke-check green, interleave load trials on blue and green, judge.

The load harness is driven through its command line only (``python -m
loadtests.cli smoke|run``): the analysis package never imports its code. Trials
alternate blue, green, blue, green, ... with the same scenario and the same
load generator, so drift of the machine running them (other jobs, thermal,
caches) falls on both sides alike. Green is judged against blue; while the
verdict is inconclusive, more blue/green pairs are added up to ``--max-trials``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.calibration import Calibration
from resultsformat.duration import parse_duration

from .common import PROG, UNUSABLE, Parser, UsageError, add_judge_options, guarded
from .criteria import Criterion
from .files import write_outputs
from .judge import Judge, decide
from .outcomes import FAIL, INCONC, PASS, ObjectiveResult, Verdict
from .slo import Objective, Slo, load_slo

RUN_PROG = f"{PROG} run"
_URL = re.compile(r"^https?://[^/\s]+")
Progress = Callable[[str], None]

SMOKE_OBJECTIVE = Objective(
    name="green-smoke",
    metric="smoke",
    request=None,
    criterion=Criterion("smoke", "==", 1.0, False, "smoke == pass"),
    critical=True,
    description="one golden path on green with every check, before any load",
)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise UsageError(f"--duration: {e}") from None


@dataclass
class GateRun:
    """A configured blue/green gate; ``execute`` runs it once into ``out``."""

    blue: str
    green: str
    out: Path
    slo: Slo
    scenario: str = "steady"
    users: int = 20
    duration: str = "10s"
    spawn_rate: float | None = None
    trials: int = 2
    max_trials: int = 4
    user_prefix: str = "load"
    password: str = "load-password"  # noqa: S105 - the harness's throwaway load users
    smoke: bool = True
    strict: bool = False
    extra_run_args: list[str] = field(default_factory=list)
    calibration: Calibration | None = None

    def check(self) -> None:
        for side, url in (("--blue", self.blue), ("--green", self.green)):
            if not _URL.match(url):
                raise UsageError(f"{side} {url!r}: expected a URL like http://127.0.0.1:8000")
        if self.trials < 1 or self.max_trials < self.trials:
            raise UsageError("--trials >= 1 and --max-trials >= --trials")
        if self.users < 1:
            raise UsageError("--users must be at least 1")
        _seconds(self.duration)
        for side in ("blue", "green"):
            d = self.out / side
            if d.is_dir() and any(d.iterdir()):
                raise UsageError(f"{d} already holds trials: choose a new --out directory")

    # --- the harness, over its command line --------------------------------------------

    def _harness(
        self, args: list[str], log: Path, timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "loadtests.cli", *args]
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter, argument list, no shell
                cmd, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"'goldenpath {args[0]}' did not finish within {timeout_s:.0f} s"
            ) from None
        log.parent.mkdir(parents=True, exist_ok=True)
        shown = " ".join("***" if a == self.password else a for a in cmd)  # keep it out of logs
        log.write_text(f"$ {shown}\n{done.stdout}\n{done.stderr}", encoding="utf-8")
        return done

    def run_smoke(self) -> ObjectiveResult:
        args = ["smoke", "--host", self.green, "--username", f"{self.user_prefix}0"]
        args += ["--password", self.password]
        done = self._harness(args, self.out / "logs" / "smoke-green.log", 120.0)
        if done.returncode == UNUSABLE:
            raise UsageError(f"smoke: {_last_line(done.stderr) or 'bad input'}")
        lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
        if done.returncode == 0:
            return ObjectiveResult(SMOKE_OBJECTIVE, PASS, 1.0, detail=lines[-1] if lines else "")
        failed = [ln for ln in lines if ln.startswith("FAIL")]
        detail = "; ".join(failed) or _last_line(done.stderr) or "smoke check failed"
        return ObjectiveResult(SMOKE_OBJECTIVE, FAIL, 0.0, detail=detail)

    def run_trial(self, side: str, url: str, index: int) -> Path:
        out = self.out / side / f"trial-{index}"
        args = ["run", "--host", url, "--scenario", self.scenario, "--users", str(self.users)]
        args += ["--duration", self.duration, "--out", str(out), "--quiet"]
        args += ["--user-prefix", self.user_prefix, "--password", self.password]
        args += ["--seed", str(index)]
        if self.spawn_rate:
            args += ["--spawn-rate", str(self.spawn_rate)]
        args += self.extra_run_args
        timeout = _seconds(self.duration) + 180.0
        done = self._harness(args, self.out / "logs" / f"{side}-{index}.log", timeout)
        if done.returncode == UNUSABLE or not (out / "meta.json").is_file():
            reason = _last_line(done.stderr) or f"exit {done.returncode}"
            raise UsageError(f"{side} trial {index} ({url}): {reason}")
        return out

    def execute(self, progress: Progress | None = None) -> Verdict:
        """Smoke, interleaved trials, judge (adding pairs while inconclusive); write outputs."""
        say = progress or (lambda _m: None)
        t0 = time.monotonic()
        self.check()
        self.out.mkdir(parents=True, exist_ok=True)
        smoke = None
        if self.smoke:
            say(f"smoke check on green {self.green}")
            smoke = self.run_smoke()
            if smoke.outcome == FAIL:
                say(f"green failed the smoke check: {smoke.detail}")
                verdict = self._verdict([smoke], None, 0, t0)
                write_outputs(verdict, self.out)
                return verdict
        blue: list[Path] = []
        green: list[Path] = []
        trial_s: list[dict[str, Any]] = []
        judged: Verdict | None = None
        while len(green) < self.max_trials:
            i = len(green) + 1
            for side, url, dirs in (("blue", self.blue, blue), ("green", self.green, green)):
                say(f"trial {i} {side} {url}: {self.users} users, {self.scenario}, {self.duration}")
                started = time.monotonic()
                dirs.append(self.run_trial(side, url, i))
                trial_s.append({"trial": i, "side": side, "wall_s": time.monotonic() - started})
            if len(green) < self.trials:
                continue
            say(f"judging green against blue ({len(green)} trial(s) each)")
            judged = self._judge(blue, green, smoke, trial_s, t0)
            if judged.verdict != INCONC:
                break
            if len(green) < self.max_trials:
                say(f"inconclusive ({judged.inconclusive_hint}); adding a blue/green pair")
        assert judged is not None, "the trial loop runs at least once (max_trials >= 1)"
        write_outputs(judged, self.out)
        return judged

    def _judge(
        self,
        blue: list[Path],
        green: list[Path],
        smoke: ObjectiveResult | None,
        trial_s: list[dict[str, Any]],
        t0: float,
    ) -> Verdict:
        from analysis.load import load_group

        judge = Judge(
            self.slo,
            load_group(green),
            load_group(blue),
            strict=self.strict,
            calibration=self.calibration,
        )
        inner = judge.run()
        results = ([smoke] if smoke else []) + inner.results
        verdict = self._verdict(results, judge, len(green), t0)
        verdict.candidate, verdict.baseline = inner.candidate, inner.baseline
        verdict.extras["trials"] = trial_s
        return verdict

    def _verdict(
        self, results: list[ObjectiveResult], judge: Judge | None, pairs: int, t0: float
    ) -> Verdict:
        verdict, score = decide(results, self.slo.min_score, strict=self.strict)
        undecided = any(r.outcome == INCONC for r in results)
        v = Verdict(
            verdict=verdict,
            score=score,
            results=results,
            inconclusive_hint=judge.hint(results) if judge and undecided else "",
            slo_source=self.slo.source,
            strict=self.strict,
        )
        v.extras.update(
            {
                "mode": "gate run",
                "blue": self.blue,
                "green": self.green,
                "scenario": self.scenario,
                "users": self.users,
                "duration": self.duration,
                "trial_pairs": pairs,
                "wall_s": round(time.monotonic() - t0, 1),
            }
        )
        if verdict == INCONC and pairs >= self.max_trials:
            v.inconclusive_hint += f" (stopped at --max-trials {self.max_trials})"
        return v


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The load options of ``gate run`` (shared with ``gate serve``)."""
    p.add_argument("--scenario", default="steady", help="load shape (default steady)")
    p.add_argument("--users", type=int, default=20, help="peak concurrent users (default 20)")
    p.add_argument("--duration", default="10s", help="each trial's run time (default 10s)")
    p.add_argument("--spawn-rate", type=float, help="users started per second")
    p.add_argument("--trials", type=int, default=2, help="blue/green pairs to run (default 2)")
    p.add_argument(
        "--max-trials", type=int,
        help="pairs at most, adding one at a time while inconclusive (default: trials + 2)",
    )  # fmt: skip
    p.add_argument("--user-prefix", default="load", help="load users PREFIX0.. (default load)")
    p.add_argument("--password", default="load-password", help="password of the load users")
    p.add_argument("--no-smoke", action="store_true", help="skip the smoke check on green")
    p.add_argument(
        "--run-arg", action="append", default=[], metavar="ARG",
        help="extra argument for 'goldenpath run' (repeatable), e.g. --run-arg=--think-time=1s",
    )  # fmt: skip
    add_judge_options(p)


def build_run_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=RUN_PROG,
        description=(
            "Smoke-check green, run load trials on blue and green interleaved (blue, green, "
            "blue, green, ...), then judge green against blue. Exit 0 pass/warning, 1 fail, "
            "2 unusable input, 3 inconclusive."
        ),
    )
    p.add_argument("--blue", required=True, metavar="URL", help="the live deployment")
    p.add_argument("--green", required=True, metavar="URL", help="the candidate deployment")
    p.add_argument(
        "--out", type=Path, default=Path("goldenpath-gate"), metavar="DIR",
        help="trials, logs, verdict.json and junit.xml (default ./goldenpath-gate)",
    )  # fmt: skip
    add_run_options(p)
    return p


def gate_run_from_args(args: argparse.Namespace, out: Path) -> GateRun:
    """A ``GateRun`` from parsed options; raises ``UsageError`` on bad ones."""
    slo = guarded(load_slo, args.slo)
    calibration = guarded(Calibration.load, args.calibration) if args.calibration else None
    gate = GateRun(
        blue=args.blue.rstrip("/"),
        green=args.green.rstrip("/"),
        out=out,
        slo=slo,
        scenario=args.scenario,
        users=args.users,
        duration=args.duration,
        spawn_rate=args.spawn_rate,
        trials=args.trials,
        max_trials=args.max_trials if args.max_trials is not None else args.trials + 2,
        user_prefix=args.user_prefix,
        password=args.password,
        smoke=not args.no_smoke,
        strict=args.strict,
        extra_run_args=list(args.run_arg),
        calibration=calibration,
    )
    gate.check()
    return gate


def run_main(argv: Sequence[str]) -> int:
    """``goldenpath gate run ...``; return the exit code."""
    args = build_run_parser().parse_args(list(argv))

    def say(message: str) -> None:
        print(f"{RUN_PROG}: {message}", file=sys.stderr, flush=True)

    try:
        gate = gate_run_from_args(args, args.out)
        verdict = guarded(gate.execute, say)
    except UsageError as exc:
        print(f"{RUN_PROG}: error: {exc}", file=sys.stderr)
        return UNUSABLE
    print("\n".join(verdict.lines()))
    print(f"wrote {args.out / 'verdict.json'}")
    print(f"wrote {args.out / 'junit.xml'}")
    return int(verdict.exit_code)

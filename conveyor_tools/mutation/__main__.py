"""``make mutation``: mutation testing of the core modules, with a gate on each module's score.

    python -m conveyor_tools.mutation [--module NAME ...] [--sample N] [--workers N]

The modules, the tests that measure them, the gate and the equivalent mutants (each with its
reason) are in ``tests/mutation.toml``. Results go to ``build/mutation/results.json``: per module
the mutants, how many were killed and survived, the score, and every survivor with its line and
mutation. It exits 1 when a module scores below the gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conveyor_tools.mutation import runner
from conveyor_tools.mutation.coverage_map import TestMap, measure
from conveyor_tools.mutation.mutants import Mutant, mutants

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "mutation.toml"
OUTPUT = ROOT / "build" / "mutation" / "results.json"


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    config = tomllib.loads(CONFIG.read_text())
    modules = [module for module in config["modules"] if not arguments.module or module["name"] in arguments.module]
    if not modules:
        raise SystemExit(f"no module named {arguments.module} in {CONFIG.relative_to(ROOT)}")
    started = time.monotonic()
    plan = Plan(
        equivalent={(entry["path"], entry["function"], entry["mutation"]) for entry in config.get("equivalent", [])},
        sample=config.get("sample", 0) if arguments.sample is None else arguments.sample,
        seed=config["seed"],
        workers=arguments.workers,
    )

    tests = arguments.tests or config["tests"]
    print(f"Mapping which tests run which lines: {' '.join(tests)}", flush=True)
    test_map = measure(
        ROOT, tests, [module["path"] for module in modules], OUTPUT.parent, config["longest_test_seconds"]
    )
    if test_map.too_slow():
        print(f"Left out, each slower than {test_map.longest} s: {', '.join(test_map.too_slow())}")
    runner.preload(ROOT, test_map.fastest_per_file(), OUTPUT.parent / "pycache")

    report: dict[str, Any] = {
        "gate": config["gate"],
        "seed": plan.seed,
        "sample": plan.sample,
        "tests_left_out": test_map.too_slow(),
        "modules": {},
    }
    for module in modules:
        report["modules"][module["name"]] = _module_report(module, test_map, plan)
    report["seconds"] = round(time.monotonic() - started, 1)
    OUTPUT.write_text(json.dumps(report, indent=2) + "\n")
    below = [name for name, found in report["modules"].items() if found["score"] < config["gate"]]
    print(f"Results in {OUTPUT.relative_to(ROOT)} after {report['seconds']} s.")
    if below:
        print(f"Below the gate of {config['gate']} %: {', '.join(below)}.")
        return 1
    return 0


@dataclass(frozen=True)
class Plan:
    """The mutants excluded as equivalent (path, function, mutation), the sampling, the workers."""

    equivalent: set[tuple[str, str, str]]
    sample: int
    seed: int
    workers: int


def _module_report(module: dict[str, str], test_map: TestMap, plan: Plan) -> dict[str, Any]:
    path = ROOT / module["path"]
    found = mutants(path, ROOT)
    excluded = [mutant for mutant in found if (mutant.path, mutant.function, mutant.mutation) in plan.equivalent]
    stale = {entry for entry in plan.equivalent if entry[0] == module["path"]} - {
        (mutant.path, mutant.function, mutant.mutation) for mutant in excluded
    }
    if stale:
        listed = "\n".join(f"  {function}: {mutation}" for _, function, mutation in sorted(stale))
        raise SystemExit(f"{CONFIG.relative_to(ROOT)} lists equivalents {module['path']} no longer has:\n{listed}")
    measured = [mutant for mutant in found if mutant not in excluded]
    candidates = len(measured)
    if plan.sample and len(measured) > plan.sample:
        chosen = random.Random(f"{plan.seed}:{module['path']}").sample(measured, plan.sample)
        measured = sorted(chosen, key=lambda mutant: mutant.index)
        print(f"{module['name']}: {plan.sample} of {len(found) - len(excluded)} mutants, sampled with seed {plan.seed}")

    untested = [mutant for mutant in measured if not test_map.tests_for(mutant)]
    jobs = [_job(mutant, path, test_map.tests_for(mutant), test_map) for mutant in measured if mutant not in untested]
    done = time.monotonic()
    results = runner.run(jobs, ROOT, plan.workers, _progress(module["name"], len(jobs)))
    survivors = [result.job.mutant for result in results if result.outcome == "survived"] + untested
    errors = [result.job.mutant for result in results if result.outcome == "error"]
    killed = len(measured) - len(survivors) - len(errors)
    score = round(100 * killed / max(len(measured), 1), 1)  # an error is not a kill
    print(
        f"{module['name']} ({module['path']}): {killed} of {len(measured)} killed, score {score} % "
        f"({len(excluded)} equivalent excluded, {len(untested)} run by no test) in {time.monotonic() - done:.0f} s",
        flush=True,
    )
    return {
        "path": module["path"],
        "mutants": len(measured),
        "killed": killed,
        "survived": len(survivors),
        "errors": [_shown(mutant, untested=False) for mutant in errors],
        "excluded": len(excluded),
        "total": len(found),
        "sampled_from": candidates,
        "score": score,
        "survivors": [_shown(mutant, mutant in untested) for mutant in sorted(survivors, key=lambda m: m.index)],
    }


def _job(mutant: Mutant, path: Path, tests: list[str], test_map: TestMap) -> runner.Job:
    expected = sum(test_map.durations.get(test, 1.0) for test in tests)
    return runner.Job(mutant, path, tests, timeout=10 + 3 * expected)


def _shown(mutant: Mutant, untested: bool) -> dict[str, Any]:
    shown = asdict(mutant)
    del shown["index"], shown["path"], shown["end_line"], shown["at_import"]
    return shown | ({"tests": "none run this line"} if untested else {})


def _progress(name: str, total: int) -> Any:
    count = 0

    def report(result: runner.Result) -> None:
        nonlocal count
        count += 1
        if sys.stdout.isatty() or count % 50 == 0 or count == total:
            print(f"  {name}: {count}/{total}", end="\r" if sys.stdout.isatty() else "\n", flush=True)

    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conveyor_tools.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only this module (a name in tests/mutation.toml)")
    parser.add_argument("--sample", type=int, help="at most this many mutants per module, sampled with the seed")
    parser.add_argument("--tests", nargs="+", help="these tests instead of those in tests/mutation.toml")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    return parser


if __name__ == "__main__":
    sys.exit(main())

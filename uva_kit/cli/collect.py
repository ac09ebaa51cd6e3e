"""Collect scripted-expert demonstrations (a LeRobot v3 dataset).

Runs the pushing expert (diverse variant unless --deterministic) on seeds SEED, SEED+1, ... in several
processes, shows a progress bar, and reports the success rate and Diffusion Policy's score (mean of
each episode's best reward). Writes OUT atomically (an interrupted run leaves nothing there): a LeRobot
v3 dataset of the successful episodes (all with --keep-failed) at 10 fps, for `uva-kit train --data OUT`,
and OUT/collect_report.json (each episode's seed, success, steps and best reward).

Examples:
  uva-kit collect pusht --episodes 200 --out data/pusht-200
  uva-kit collect two-block --episodes 100 --out data/two-block --workers 2 --seed 1000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from uva_kit.cli.argument_types import non_negative_int, positive_int
from uva_kit.envs import ENVIRONMENTS
from uva_kit.errors import UsageError, UvaKitError

_expert = None  # one expert per worker process (its twin simulator is reused across episodes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env", choices=sorted(ENVIRONMENTS), help="environment to collect in")
    parser.add_argument("--episodes", type=positive_int, required=True, help="episodes to run, one seed each")
    parser.add_argument("--out", required=True, help="output dataset folder (must not exist unless --overwrite)")
    parser.add_argument("--workers", type=positive_int, default=min(4, os.cpu_count() or 1),
                        help="worker processes (default: %(default)s, the CPU count up to 4)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the first episode (default: %(default)s)")
    parser.add_argument("--max-steps", type=positive_int, default=300, help="environment steps per episode at most (default: %(default)s)")
    parser.add_argument("--legacy-seeding", action="store_true",
                        help="draw start states as the original PushT evaluation does (pusht and pusht-m only)")
    parser.add_argument("--deterministic", action="store_true", help="always take the best push (not the diverse expert)")
    parser.add_argument("--keep-failed", action="store_true", help="also write episodes that did not succeed")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def _init_worker(env: str, diverse: bool) -> None:
    global _expert
    from uva_kit.envs.experts import PushExpert

    _expert = PushExpert(env, diverse=diverse)


def _run_episode(job: tuple[int, int, bool]):
    seed, max_steps, legacy_seeding = job
    return _expert.record_episode(seed, max_steps=max_steps, legacy_seeding=legacy_seeding)


def run(args: argparse.Namespace) -> int:
    from uva_kit.atomic import atomic_directory
    from uva_kit.data.lerobot import LeRobotWriter

    if args.legacy_seeding and args.env == "two-block":
        raise UsageError("--legacy-seeding applies to pusht and pusht-m only")
    jobs = [(args.seed + i, args.max_steps, args.legacy_seeding) for i in range(args.episodes)]
    results = []
    with atomic_directory(args.out, overwrite=args.overwrite) as folder:
        writer = LeRobotWriter(folder, fps=10)
        with ProcessPoolExecutor(
            max_workers=args.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(args.env, not args.deterministic),
        ) as pool, tqdm(total=len(jobs), desc=f"collect {args.env}", unit="episode") as bar:
            for episode in pool.map(_run_episode, jobs):  # in seed order, so the dataset is reproducible
                results.append({"seed": episode.seed, "success": episode.success, "steps": episode.length,
                                "max_reward": episode.max_reward})
                if episode.success or args.keep_failed:
                    writer.add(episode)
                bar.update()
                bar.set_postfix(success=f"{sum(r['success'] for r in results) / len(results):.0%}")
            if not writer.episodes:
                raise UvaKitError(f"no episode succeeded in {args.episodes}; nothing written (pass --keep-failed)")
            writer.close()
        report = _report(args, results, len(writer.episodes))
        (folder / "collect_report.json").write_text(json.dumps(report, indent=2))
    print(
        f"{args.env}: success {report['successes']}/{report['episodes']} ({report['success_rate']:.1%}), "
        f"score {report['mean_max_reward']:.3f}, mean {report['mean_steps']:.0f} steps/episode; "
        f"wrote {report['written_episodes']} episodes to {args.out}"
    )
    return 0


def _report(args: argparse.Namespace, results: list[dict], written: int) -> dict:
    successes = sum(r["success"] for r in results)
    return {
        "env": args.env,
        "expert": "deterministic" if args.deterministic else "diverse",
        "legacy_seeding": args.legacy_seeding,
        "episodes": len(results),
        "successes": successes,
        "success_rate": successes / len(results),
        "mean_max_reward": sum(r["max_reward"] for r in results) / len(results),
        "mean_steps": sum(r["steps"] for r in results) / len(results),
        "written_episodes": written,
        "per_episode": results,
    }

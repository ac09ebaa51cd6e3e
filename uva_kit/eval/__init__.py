"""Evaluation workflows: policy rollouts, video quality (PSNR, SSIM, FVD), inverse dynamics, planning.

Each writes ``eval_info.json``, plots, videos and a self-contained ``report.html`` to an output folder;
``uva-kit eval policy|video|inverse|planning`` runs them from the command line. Torch loads lazily.
"""

from uva_kit.eval.policy_eval import evaluate_policy, policy_evaluator, run_policy_suite
from uva_kit.eval.scoring import EpisodeResult, episode_result, summarize

__all__ = ["EpisodeResult", "episode_result", "evaluate_policy", "policy_evaluator", "run_policy_suite", "summarize"]

"""Collect 96x96 PushT frames with semi-random actions (for measuring the conv_vae; needs gym-pusht).

    python benchmarks/pusht_frames.py --episodes 80 --steps 100 --out pusht_frames.npz

Each episode starts from a seeded random state; every 10 steps the agent heads for a new target,
half of the time near the T block so the block gets pushed around. Writes ``frames`` (N, 96, 96, 3)
uint8 and ``episode_index`` (N,) to an .npz file.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm


def collect_frames(episodes: int, steps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import gym_pusht  # noqa: F401  (registers the env)
    import gymnasium as gym

    env = gym.make("gym_pusht/PushT-v0", obs_type="pixels", render_mode="rgb_array")
    rng = np.random.default_rng(seed)
    frames, episode_index = [], []
    for episode in tqdm(range(episodes), desc="PushT episodes"):
        observation, _ = env.reset(seed=seed + episode)
        target = np.asarray(env.unwrapped.agent.position, dtype=np.float64)
        for step in range(steps):
            if step % 10 == 0:
                start = target
                if rng.random() < 0.5:
                    goal = np.asarray(env.unwrapped.block.position) + rng.normal(0, 60, 2)
                else:
                    goal = rng.uniform(20, 492, 2)
            target = start + (goal - start) * ((step % 10) + 1) / 10
            frames.append(observation)
            episode_index.append(episode)
            observation, *_ = env.step(np.clip(target, 0, 512).astype(np.float32))
    env.close()
    return np.stack(frames), np.asarray(episode_index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=80)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    frames, episode_index = collect_frames(args.episodes, args.steps, args.seed)
    np.savez_compressed(args.out, frames=frames, episode_index=episode_index)
    print(f"wrote {len(frames)} frames of {args.episodes} episodes to {args.out}")


if __name__ == "__main__":
    main()

"""``fit``: the training loop (micro-batches, precision, EMA, validation, evaluation, checkpoints, resume)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from uva_kit.errors import DataError, InputError, UvaKitError
from uva_kit.run_layout import RUN_CONFIG, checkpoint_root, last_checkpoint, step_name
from uva_kit.spec import UVASpec, as_spec, to_dict
from uva_kit.train import distributed, training_state
from uva_kit.train.batches import BatchPlan, PlanSampler, SeededSamples, derive_seed, seed_everything, seeded
from uva_kit.train.curves import CURVES_FILE, redraw_run_curves
from uva_kit.train.ema import EMA
from uva_kit.train.loss_window import LossWindow
from uva_kit.train.metrics import MetricsLog
from uva_kit.train.optim import build_optimizer, build_scheduler
from uva_kit.train.sharding import full_optimizer_state, load_optimizer_state
from uva_kit.train.stop_request import StopRequest, ignore_stop_signals
from uva_kit.train.video_data import VideoOnly, check_video_data, video_ratio_problem

KEPT_NAMED = 5  # fresh tensors named when initialising from another model
Evaluate = Callable[[torch.nn.Module, int], float]


@attrs.frozen
class FitResult:
    """What ``fit`` returns: the run folder, the last step, the newest checkpoint folder (``uva_kit.load`` takes it,
    or ``out``), the last step's training loss and the last validation loss (EMA weights; None without validation)."""

    out: Path
    step: int
    checkpoint: Path | None
    train_loss: float | None
    val_loss: float | None


def resolve_precision(precision: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: full fp32)."""
    on_cuda = device.startswith("cuda")
    if precision == "auto":
        return torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported() else None
    if precision == "fp16" and not on_cuda:
        raise UvaKitError("training.precision='fp16' needs a CUDA device; use 'bf16' or 'fp32' on the CPU.")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def fit_normalizers(model: torch.nn.Module, stats: dict) -> None:
    """Give each model-owned normalizer the min/max of its data key from the dataset statistics. One whose data no
    mode of the mixture needs (video-only pretraining on action-free video) keeps its range; a later stage sets it."""
    for modality in getattr(model, "modalities", {}).values():
        normalizer = getattr(modality, "normalizer", None)
        key = getattr(modality, "data_key", None)
        if normalizer is None or key is None:
            continue
        if key not in stats:
            if not any(mode.needs(modality.name) for mode, _ in getattr(model, "mixture", ())):
                continue
            raise UvaKitError(f"the training data has no '{key}', the '{modality.name}' data that modes of the mixture "
                              "train on: train on data that has it. Action-free video is mixed in with video_dataset= "
                              "(uva-kit train --video-data DIR), or trained alone with modes = [{mode = {type = "
                              "'video'}}] (video-only pretraining).")
        width, expected = np.size(stats[key]["min"]), normalizer.low.numel()
        if width != expected:
            raise DataError(f"'{key}' has {width} values per step in the data, but the '{modality.name}' modality is "
                            f"built for {expected}: set {_size_option(model.spec, modality.name)} = {width} in the spec")
        normalizer.set_range(stats[key]["min"], stats[key]["max"])


def _size_option(spec: UVASpec, modality: str) -> str:
    """The spec option that sets the per-step size of ``modality``'s data."""
    if modality == "action":
        return "layout.action_dim"
    index = next(i for i, m in enumerate(spec.modalities) if m.type == modality)
    return f"modalities.{index}.dim"


def fit_latent_standardizer(model: torch.nn.Module, dataset: Any, samples: int = 256) -> None:
    """Measure the model's frame-token standardization (when its spec asks for one) on the history
    frames of ``samples`` evenly spaced training windows; the global RNG state is left untouched."""
    standardizer = getattr(model, "latent_standardizer", None)
    if standardizer is None:
        return
    indices = np.linspace(0, len(dataset) - 1, min(samples, len(dataset))).round().astype(int)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        frames = torch.stack([dataset[int(i)]["history_frames"] for i in indices])
        latents = model.encode_frames(frames)
    standardizer.fit(latents.permute(0, 1, 3, 4, 2).reshape(len(indices), -1, latents.shape[2]))


def _to_device(batch: Any, device: str) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _write_run_config(out: Path, spec: UVASpec, extra: dict) -> None:
    from uva_kit import __version__

    config = {"spec": to_dict(spec), "uva_kit_version": __version__, "torch_version": torch.__version__, **extra}
    (out / RUN_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def read_run_config(out: Path) -> dict:
    path = Path(out) / RUN_CONFIG
    if not path.exists():
        raise UvaKitError(f"{out} is not a training run (no {RUN_CONFIG}); nothing to resume.")
    return json.loads(path.read_text())


@torch.no_grad()
def validation_loss(model: torch.nn.Module, dataset: Any, batch_size: int, batches: int, seed: int, device: str) -> float:
    """Mean loss over fixed, seeded batches of ``dataset`` (comparable from one validation to the next)."""
    model.eval()
    samples = SeededSamples({"main": dataset})
    size = min(batch_size, len(dataset))
    losses = []
    for index in range(batches):
        items = [(index * size + offset) % len(dataset) for offset in range(size)]
        batch = torch.utils.data.default_collate([samples[("main", i, derive_seed(seed, index, i))] for i in items])
        with seeded(derive_seed(seed, index)):
            loss, _ = model.compute_loss(_to_device(batch, device))
        losses.append(float(loss))
    return sum(losses) / len(losses)


def fit(
    spec: UVASpec | str | Path,
    dataset: Any,
    out: str | Path,
    *,
    val_dataset: Any = None,
    video_dataset: Any = None,
    resume: bool = False,
    init_from: str | Path | None = None,
    evaluate: Evaluate | None = None,
    device: str | None = None,
    progress: bool = True,
    run_info: dict | None = None,
    time_limit_s: float | None = None,
    latent_cache: str | Path | None = None,
) -> FitResult:
    """Train ``spec`` (a ``UVASpec``, preset name or spec file) on ``dataset`` (sample dicts, e.g. a
    ``uva_kit.data.UVADataset``; ``dataset.stats`` gives the normalizer ranges).

    Writes ``out/train_config.json``, ``out/metrics.jsonl`` and ``out/checkpoints/``. With
    ``resume=True`` it continues from ``out/checkpoints/last`` exactly where that run stopped.
    ``evaluate(ema_model, step) -> score`` (higher is better) runs every ``training.eval_every`` steps
    and the best ``training.keep_top_k`` checkpoints by score are kept. ``time_limit_s`` stops the
    run early (with a checkpoint) once that much wall-clock time has passed; ``resume`` continues it.
    ``latent_cache`` (a folder) trains on encoder latents cached there (see ``latent_windows``).
    ``video_dataset`` (action-free video) trains ``training.video_data_ratio`` of the micro-batches in the modes that
    need no actions (see ``uva_kit.train.video_data``).
    """
    state = distributed.setup(device)
    try:
        return _train(as_spec(spec), dataset, Path(out), state, val_dataset=val_dataset, video_dataset=video_dataset,
                      resume=resume, init_from=init_from, evaluate=evaluate, progress=progress, run_info=run_info,
                      time_limit_s=time_limit_s, latent_cache=latent_cache)
    finally:
        distributed.teardown(state)  # once _train has returned, its model, optimizer and loader are garbage


def _train(spec: UVASpec, dataset: Any, out: Path, state: distributed.Distributed, *, val_dataset: Any,
           video_dataset: Any, resume: bool, init_from: str | Path | None, evaluate: Evaluate | None, progress: bool,
           run_info: dict | None, time_limit_s: float | None, latent_cache: str | Path | None) -> FitResult:
    """``fit`` on the ranks of ``state`` (joined already)."""
    from uva_kit import build
    from uva_kit.pretrained import load_matching_weights, model_directory

    training = spec.training
    if resume:
        if state.is_main:
            for path in training_state.remove_interrupted_saves(out):
                print(f"cleaned up {path.name}, left by a checkpoint save that was killed")
        state.barrier()
    checkpoint = last_checkpoint(out) if resume else None
    if not resume and checkpoint_root(out).exists():
        raise UvaKitError(f"{out} already holds a training run; resume it with --resume, or choose another --out.")
    autocast_dtype = resolve_precision(training.precision, state.device)
    if val_dataset is not None and len(val_dataset) == 0:
        if state.is_main:
            print("the validation split has no windows (too few episodes): training without validation")
        val_dataset = None

    problem = video_ratio_problem(training.video_data_ratio, video_dataset is not None)
    if problem is not None:
        raise InputError(problem)
    _check_data(dataset)  # before seeding: reading a sample may draw (augmentation)
    _check_instructions(spec, {"training": dataset, "validation": val_dataset, "video": video_dataset})
    if video_dataset is not None and check_video_data(dataset, video_dataset) and state.is_main:
        print("note: the action-free video data has actions; they are not used (its batches train only the modes "
              "that need no actions): to train on them, add those episodes to the action data")
    seed_everything(training.seed)
    model = build(spec).to(state.device)
    fit_normalizers(model, dataset.stats)
    fit_latent_standardizer(model, dataset)
    if model.prefix_modality is not None and state.is_main:
        from uva_kit.modality.language import warn_of_shared_instructions

        warn_of_shared_instructions(model.prefix_modality, _tasks(dataset, val_dataset, video_dataset))
    if latent_cache is not None:
        dataset, val_dataset, video_dataset = _cached_latents(model, latent_cache, state, progress, dataset,
                                                              val_dataset, video_dataset)
    if init_from is not None and checkpoint is None:
        source = model_directory(init_from)
        loaded, kept = load_matching_weights(model, source)
        if state.is_main:
            named = f" ({', '.join(kept[:KEPT_NAMED])}{', ...' if len(kept) > KEPT_NAMED else ''})" if kept else ""
            print(f"initialised {len(loaded)} tensors from {source}; {len(kept)} keep their fresh values{named}")
    ema = EMA(model, training.ema_power, training.ema_max_decay)
    if checkpoint is not None:
        training_state.load_weights(checkpoint, model, ema)
    parallel = _parallelism(training.parallelism, state, model, ema)
    optimizer = build_optimizer(model, training)
    scheduler = build_scheduler(optimizer, training)
    progress_so_far = training_state.Progress(step=0, trained_s=0.0)
    if checkpoint is not None:
        progress_so_far = training_state.load_progress(checkpoint, ema, scheduler, partial(load_optimizer_state, optimizer))
    start = progress_so_far.step
    if state.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if checkpoint is None:  # a fresh run: nothing of an earlier attempt that saved no checkpoint is kept
            _write_run_config(out, spec, {"world_size": state.world_size, **(run_info or {})})
            (out / MetricsLog.FILE).unlink(missing_ok=True)
        _print_start(spec, model, out, start if checkpoint is not None else None, state)

    sources = {"main": dataset} | ({"video": VideoOnly(video_dataset)} if video_dataset is not None else {})
    plan = BatchPlan(
        len(dataset), training.batch_size, training.seed, state.world_size, state.rank, training.grad_accumulation,
        len(video_dataset) if video_dataset is not None else 0, training.video_data_ratio,
    )
    loader = torch.utils.data.DataLoader(
        SeededSamples(sources), batch_sampler=PlanSampler(plan, start, training.steps),
        num_workers=training.num_workers, persistent_workers=False, worker_init_fn=ignore_stop_signals,
    )
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 else None
    log = MetricsLog(out, enabled=state.is_main)
    if checkpoint is not None and state.is_main:
        log.drop_records_after(start)

    micro_batches = zip(plan.iterate(start, training.steps), loader)
    bar = tqdm(total=None if time_limit_s else training.steps, initial=start, desc="train", unit="step",
               disable=not (progress and state.is_main), dynamic_ncols=True)
    announce = tqdm.write if state.is_main else (lambda line: None)
    val_loss = None
    saved: Path | None = checkpoint
    step = start
    window = LossWindow(video_data=video_dataset is not None)
    shown: dict[str, str] = {}  # the bar's postfix: the last record's loss and lr, the last validation loss
    started = time.perf_counter()
    with StopRequest() as stop:  # Ctrl-C or SIGTERM: finish the step, save, stop
        for step in range(start + 1, training.steps + 1):
            model.train()
            step_losses, micro_metrics = _accumulate_gradients(parallel, micro_batches, training.grad_accumulation,
                                                               state.device, autocast_dtype, scaler)
            lr = _optimizer_step(model, optimizer, scheduler, scaler, training.grad_clip)
            ema.update(model)

            trained_s = progress_so_far.trained_s + time.perf_counter() - started  # over every resumed segment
            # one collective: every rank sees the same loss, time and stop request, so all act at the same step
            step_loss, mean_trained_s, stop_requested = state.mean(_step_loss(step_losses), trained_s,
                                                                   float(stop.requested))
            window.add(step, step_loss, micro_metrics)
            bar.update(1)
            out_of_time = time_limit_s is not None and mean_trained_s >= time_limit_s
            stopping = stop_requested > 0
            last = out_of_time or stopping or step == training.steps  # a run's last step is always logged and validated
            logging = step % training.log_every == 0 or last
            validating = val_dataset is not None and (step % training.val_every == 0 or last)
            evaluating = evaluate is not None and training.eval_every is not None and step % training.eval_every == 0
            saving = evaluating or last or step % training.checkpoint_every == 0
            # the losses stay on the device until now (reading them waits for it): checked before anything uses them
            non_finite = window.first_non_finite() if logging or validating or saving else None
            if non_finite is not None:
                raise UvaKitError(
                    f"the training loss is {non_finite[1]} at step {non_finite[0]}; stopped without saving it (last "
                    f"checkpoint: {saved or 'none'}). Look for NaN/inf in the data and the dataset statistics, or "
                    "lower training.lr.")
            if logging:
                record = {**window.record(training.batch_size), "lr": lr}
                log.write(step, "train", record)
                shown |= {"loss": f"{record['loss']:.4f}", "lr": f"{lr:.2e}"}
                bar.set_postfix(shown)
                if not progress:  # logs only: a line per record
                    announce(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in record.items()))
                window.clear()
            # gathering sharded states is a collective: every rank takes part, rank 0 uses the result
            ema_model = parallel.full_ema_model() if validating or saving else None
            if validating and state.is_main:
                val_loss = validation_loss(ema_model, val_dataset, plan.micro_batch_size, training.val_batches,
                                           training.seed, state.device)
                log.write(step, "val", {"loss": val_loss})
                shown["val"] = f"{val_loss:.4f}"
                bar.set_postfix(shown)
                announce(f"step {step}: validation loss {val_loss:.4f} (EMA weights)")
            if saving:
                model_state, optimizer_state = parallel.full_model_state(), full_optimizer_state(optimizer, state.is_main)
                if state.is_main:
                    training_state.save_checkpoint(out, step, ema_model, ema.updates, model_state, optimizer_state,
                                                   scheduler, trained_s)
                    if evaluating:
                        score = float(evaluate(ema_model, step))
                        training_state.record_score(out, step, score)
                        log.write(step, "eval", {"score": score})
                    training_state.prune(out, training.keep_last, training.keep_top_k)
                state.barrier()
                saved = checkpoint_root(out) / step_name(step)  # on every rank: the folder rank 0 wrote
            if (validating or saving) and state.is_main:
                redraw_run_curves(out)
            if out_of_time or stopping:
                reason = f"time limit of {time_limit_s:.0f} s reached" if out_of_time else f"{stop.signal_name} received"
                announce(f"{reason} at step {step}: saved {saved}; continue with `uva-kit train --resume {out}`")
                break
    bar.close()
    log.close()
    train_loss = float(step_loss) if step > start else None
    return FitResult(out, step, saved, train_loss, val_loss)


def _cached_latents(model: torch.nn.Module, folder: str | Path, state: distributed.Distributed, progress: bool,
                    *datasets: Any) -> list[Any]:
    """The datasets (training, validation, video; None stays None) with encoder latents (cached in ``folder``)
    instead of frames. What is missing from the cache is encoded now, the ranks sharing the work: DataLoader workers
    then only read."""
    from uva_kit.train.latent_windows import CachedLatentWindows

    cached = [CachedLatentWindows(dataset, model, folder) if dataset is not None else None for dataset in datasets]
    for windows in cached:
        if windows is not None:
            windows.fill(progress and state.is_main, state.rank, state.world_size)
    state.barrier()
    return cached


def _print_start(spec: UVASpec, model: torch.nn.Module, out: Path, resumed_at: int | None,
                 state: distributed.Distributed) -> None:
    """What the run trains, where and how (``resumed_at``: the step a resumed run continues from), and notes on
    settings that do less than they seem to."""
    training = spec.training
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    schedule = f"{training.lr_schedule} after {training.warmup_steps} warm-up steps"
    print(f"uva-kit train: {'starting' if resumed_at is None else f'resuming at step {resumed_at}'} -> {out}\n"
          f"  {spec.name}: {trainable:,} trainable parameters, {len(spec.deviations)} deviations from the paper "
          f"(listed in the spec); device {state.device}, {state.world_size} process(es)\n"
          f"  {training.steps} steps of batch {training.batch_size}, lr {training.lr:g} ({schedule}), "
          f"precision {training.precision}\n  the whole spec: {out / RUN_CONFIG}; logs: {out / MetricsLog.FILE}; "
          f"curves: {out / CURVES_FILE}\n  loss: the mean training loss of the last {training.log_every} steps, all "
          "modes (loss/<modality>: each head's part); val: the validation loss (EMA weights)")
    if training.parallelism == "fsdp" and not state.enabled:
        print("training.parallelism='fsdp' has no effect on one process (launch with torchrun for sharding)")
    if training.warmup_steps >= training.steps:
        print(f"note: training.warmup_steps ({training.warmup_steps}) >= training.steps ({training.steps}): the "
              f"learning rate never reaches training.lr ({training.lr:g})")


def _accumulate_gradients(parallel, micro_batches, count: int, device: str, autocast_dtype: torch.dtype | None,
                          scaler) -> tuple[list[torch.Tensor], list[dict]]:
    """Forward and backward passes over the step's next ``count`` micro-batches, each seeded by the plan and its loss
    divided by ``count``, so the gradients add up to the step's mean; returns each micro-batch's loss and metrics,
    left on the device (detached 0-d tensors), the metrics with the micro-batch's data ``source``."""
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    losses, metrics_list = [], []
    for accumulation in range(count):
        micro, batch = next(micro_batches)
        autocast = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        with parallel.micro_batch(accumulation == count - 1), seeded(micro.seed):
            with autocast:
                loss, metrics = parallel.module(_to_device(batch, device), metrics_on_device=True)
            scaled = loss / count
            (scaler.scale(scaled) if scaler else scaled).backward()
        losses.append(loss.detach())
        metrics_list.append({**metrics, "source": micro.source})
    parallel.drop_unused_gradients()
    return losses, metrics_list


def _step_loss(losses: list[torch.Tensor]) -> torch.Tensor:
    """The mean of a step's micro-batch losses as a float64 tensor on their device (not read: no device sync),
    added up in order, so that it equals the mean of their values read one by one."""
    total = losses[0].double()
    for loss in losses[1:]:
        total = total + loss.double()
    return total / len(losses)


def _optimizer_step(model: torch.nn.Module, optimizer, scheduler, scaler, grad_clip: float | None) -> float:
    """Apply the accumulated gradients (unscaled under fp16, clipped to ``grad_clip``), advance the learning-rate
    schedule and zero the gradients; returns the learning rate this step used."""
    if scaler:
        scaler.unscale_(optimizer)
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    lr = scheduler.get_last_lr()[0]
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return lr


def _check_data(dataset: Any) -> None:
    """The dataset must have ``stats`` and the frames of its first window must be floats in [0, 1] (the model
    skips this check while training, where it would cost a device sync every step)."""
    from uva_kit.model.uva import check_frames

    if not hasattr(dataset, "stats"):
        raise InputError(f"the dataset (a {type(dataset).__name__}) has no .stats, the range of each data key for the "
                         "model's normalizers ({'actions': {'min': ..., 'max': ...}, ...}); uva_kit.data.UVADataset "
                         "has them")

    if len(dataset):
        sample = dataset[0]
        for key in ("history_frames", "future_frames"):
            if key in sample:
                check_frames(torch.as_tensor(sample[key]), f"the training data's {key}")


def _check_instructions(spec: UVASpec, datasets: dict[str, Any]) -> None:
    """A spec with the ``language`` modality reads each sample's ``instruction``: the first window of each dataset
    must carry one (or training would stop at its first batch)."""
    from uva_kit.modality.language import reads_instructions

    if not reads_instructions(spec):
        return
    for name, dataset in datasets.items():
        if dataset is not None and len(dataset) and "instruction" not in dataset[0]:
            raise DataError(f"the spec has a 'language' modality, which reads each sample's 'instruction', but the "
                            f"{name} data's samples have none: build it with UVADataset(..., instructions=True) (each "
                            "window then carries its episode's task), or drop the language modality")


def _tasks(*datasets: Any) -> list[str]:
    """The episode tasks of the datasets that name them (``UVADataset``s of data with tasks)."""
    return [task for data in datasets for task in getattr(getattr(data, "episodes", None), "tasks", ())]


def _parallelism(name: str, state: distributed.Distributed, model: torch.nn.Module, ema: EMA):
    """How the ranks share the model: sharded under torchrun with ``fsdp``, else replicated (DDP)."""
    if name == "fsdp" and state.enabled:
        from uva_kit.train.sharding import Sharded

        return Sharded(state, model, ema)
    return distributed.Replicated(state, model, ema)


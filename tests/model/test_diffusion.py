"""Schedule, respacing, loss and samplers against closed-form facts."""

from __future__ import annotations

import math

import pytest
import torch

import uva_kit
from uva_kit.diffusion.loss import diffusion_loss
from uva_kit.diffusion.schedule import DiffusionSchedule, linear_betas, spaced_timesteps
from uva_kit.spec import DiffusionSpec


def test_cosine_schedule_matches_the_original():
    tables = DiffusionSchedule.from_spec(DiffusionSpec()).tables()
    assert tables["alphas_cumprod"][0].item() == pytest.approx(0.99996, abs=1e-5)
    assert tables["alphas_cumprod"][-1].item() == pytest.approx(2.4e-9, rel=0.02)
    assert tables["betas"][0].item() == pytest.approx(4.1e-5, rel=0.01)
    assert tables["betas"][-1].item() == pytest.approx(0.999)


def test_respacing_keeps_the_original_steps():
    kept = spaced_timesteps(1000, 100)
    assert kept[:8] == [0, 10, 20, 30, 40, 50, 61, 71] and kept[-1] == 999 and len(kept) == 100
    assert spaced_timesteps(1000, 16)[:3] == [0, 67, 133]
    respaced = DiffusionSchedule.from_spec(DiffusionSpec()).respaced(100)
    assert respaced.timestep_map.tolist() == kept
    assert respaced.tables()["betas"][-1].item() == pytest.approx(0.99999, abs=1e-5)


class OracleDenoiser:
    """The exact eps for data that is always ``target``; the embedding y carries the training step."""

    def __init__(self, target: torch.Tensor, schedule: DiffusionSchedule):
        self.target = target
        self.alphas_cumprod = schedule.tables()["alphas_cumprod"]

    def time_embedding(self, timesteps):
        return timesteps.float()[:, None]

    def condition_embedding(self, condition):
        return torch.zeros(condition.shape[0], 1)

    def forward_embedded(self, x, y):
        alpha_bar = self.alphas_cumprod[y[:, 0].long()][:, None]
        eps = (x - alpha_bar.sqrt() * self.target) / (1 - alpha_bar).sqrt()
        return torch.cat([eps, torch.zeros_like(eps)], dim=-1)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samplers_recover_the_data_from_an_exact_denoiser(sampler):
    target = torch.tensor([0.3, -0.7])
    component = uva_kit.registry.get("sampler", sampler)
    built = component.build(component.spec_class(type=sampler, steps=50))
    oracle = OracleDenoiser(target, DiffusionSchedule.from_spec(DiffusionSpec()))
    out = built.sample(oracle, torch.zeros(8, 3), 2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (8, 2)
    assert torch.allclose(out, target.expand(8, 2), atol=1e-3)


class ZeroEpsDenoiser:
    """Predicts eps = 0 (and variance logits 0) everywhere."""

    def time_embedding(self, timesteps):
        return torch.zeros(len(timesteps), 1, dtype=torch.float64)

    def condition_embedding(self, condition):
        return torch.zeros(condition.shape[0], 1, dtype=torch.float64)

    def forward_embedded(self, x, y):
        return torch.zeros(x.shape[0], 2 * x.shape[1], dtype=x.dtype)


@pytest.mark.parametrize("eta", [1.0, 0.5])
def test_ddim_step_adds_sigma_times_the_noise_without_a_temperature(eta):
    """Two DDIM steps (training steps 999, then 0) from x_T = 0 with eps = 0 and first-step noise z = 1: the first
    step gives sigma, sigma = eta sqrt((1 - abar_0) / (1 - abar_999) (1 - abar_999 / abar_0)); the last, with
    abar_prev = 1, returns its x0 = x / sqrt(abar_0)."""
    _, alpha_bars = cosine_schedule_by_hand()
    first, last = alpha_bars[0], alpha_bars[999]
    sigma = eta * math.sqrt((1 - first) / (1 - last) * (1 - last / first))
    component = uva_kit.registry.get("sampler", "ddim")
    sampler = component.build(component.spec_class(type="ddim", steps=2, eta=eta))
    noise = torch.tensor([0.0, 1.0, 5.0], dtype=torch.float64).reshape(3, 1, 1)  # x_T, step noise, unused last
    out = sampler.sample(ZeroEpsDenoiser(), torch.zeros(1, 1, dtype=torch.float64), 1, noise=noise)
    assert out.item() == pytest.approx(sigma / math.sqrt(first), rel=1e-9)


def test_clamp_keeps_predicted_x0_in_range():
    component = uva_kit.registry.get("sampler", "ddpm")
    sampler = component.build(component.spec_class(type="ddpm", steps=10))
    oracle = OracleDenoiser(torch.tensor([3.0]), DiffusionSchedule.from_spec(DiffusionSpec()))
    clamped = sampler.sample(oracle, torch.zeros(4, 1), 1, clamp_x0=True, generator=torch.Generator().manual_seed(0))
    assert clamped.abs().max() <= 1.0 + 1e-4


def test_loss_is_small_for_an_exact_denoiser_and_trains_the_variance_only_through_vb():
    schedule = DiffusionSchedule.from_spec(DiffusionSpec())
    target = torch.tensor([0.2, -0.4])
    oracle = OracleDenoiser(target, schedule)
    variance = torch.zeros(1, requires_grad=True)

    def model(x, t):
        eps = oracle.forward_embedded(x, t.float()[:, None])[:, :2]
        return torch.cat([eps, variance.expand_as(eps)], dim=-1)

    loss = diffusion_loss(schedule, model, target.expand(64, 2), torch.Generator().manual_seed(0))
    assert loss.shape == (64,)
    assert loss.mean().item() < 0.05  # MSE is 0; only the VB of the variance branch remains
    loss.mean().backward()
    assert variance.grad is not None and variance.grad.abs() > 0


def cosine_schedule_by_hand(steps: int = 1000) -> tuple[list[float], list[float]]:
    """The betas of the cosine formula (capped at 0.999) and alpha_bar_t = prod_{i <= t} (1 - beta_i)."""
    f = [math.cos((i / steps + 0.008) / 1.008 * math.pi / 2) ** 2 for i in range(steps + 1)]
    betas = [min(1 - f[i + 1] / f[i], 0.999) for i in range(steps)]
    alpha_bars = [math.prod(1 - b for b in betas[: t + 1]) for t in range(steps)]
    return betas, alpha_bars


@pytest.mark.parametrize("logit", [-1.0, 1.0])
def test_vb_term_is_the_closed_form_kl_and_decoder_nll_in_bits(logit):
    """With the exact eps, the VB term of each row is known in closed form. Variance logit -1 picks the true
    posterior variance (KL 0), +1 picks beta_t (KL of two Gaussians with equal means); at t = 0 it is the NLL
    of x0 under N(x0, sigma^2) discretized into bins of half-width 1/255. All in bits."""
    betas, alpha_bars = cosine_schedule_by_hand()

    def posterior_variance(t):
        return betas[t] * (1 - alpha_bars[t - 1]) / (1 - alpha_bars[t])

    def expected(t):
        if t == 0:
            variance = betas[0] if logit == 1 else posterior_variance(1)  # the log variance at 0 is clipped to 1's
            return -math.log2(math.erf((1 / 255) / math.sqrt(2 * variance)))
        model, true = betas[t] if logit == 1 else posterior_variance(t), posterior_variance(t)
        return 0.5 * (-1 + math.log(model / true) + true / model) / math.log(2)

    x0 = torch.full((4000, 1), 0.3, dtype=torch.float64)
    seen = []

    def exact_model(x, t):
        seen.append(t)
        alpha_bar = torch.tensor(alpha_bars, dtype=torch.float64)[t][:, None]
        eps = (x - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
        return torch.cat([eps, torch.full_like(eps, logit)], dim=-1)

    loss = diffusion_loss(DiffusionSchedule.from_spec(DiffusionSpec()), exact_model, x0, torch.Generator().manual_seed(0))
    timesteps = seen[0]
    assert timesteps.min() == 0 and timesteps.max() == 999  # t ~ U{0..T-1}
    target = torch.tensor([expected(t) for t in timesteps.tolist()], dtype=torch.float64)
    torch.testing.assert_close(loss, target, rtol=2e-3, atol=1e-9)  # the CDF is MAR's tanh approximation


def test_linear_schedule_spans_the_ddpm_range_at_any_step_count():
    for steps in (1000, 500):
        betas = linear_betas(steps)
        assert len(betas) == steps
        assert betas[0].item() == pytest.approx(1e-4 * 1000 / steps) and betas[-1].item() == pytest.approx(0.02 * 1000 / steps)


def test_loss_of_half_precision_rows_is_computed_in_fp32():
    """A VAE encoder under bf16 autocast hands the video loss bf16 rows; the loss promotes them first (bf16
    schedule tables would round sqrt(abar) at the small timesteps to 1)."""
    schedule = DiffusionSchedule.from_spec(DiffusionSpec())
    rows = torch.randn(256, 4, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    seen = []

    def model(x, t):
        seen.append(x.dtype)
        return torch.cat([0.9 * x, torch.zeros_like(x)], dim=-1)

    bf16 = diffusion_loss(schedule, model, rows, torch.Generator().manual_seed(1))
    fp32 = diffusion_loss(schedule, model, rows.float(), torch.Generator().manual_seed(1))
    assert seen == [torch.float32, torch.float32]
    torch.testing.assert_close(bf16, fp32, rtol=0, atol=0)


def test_loss_repeats_average_more_timestep_and_noise_draws_per_action():
    """``loss_repeats`` keeps the expected action loss and shrinks its spread over draws (~1/sqrt(repeats))."""

    def spread(repeats: int) -> tuple[float, float]:
        torch.manual_seed(0)
        spec = uva_kit.load_spec("pusht-tiny", [f"modalities.1.head.loss_repeats={repeats}"])
        model = uva_kit.build(spec).eval()
        z = torch.randn(2, model.grid.length, 32, generator=torch.Generator().manual_seed(1))
        target = torch.rand(2, 16, 2, generator=torch.Generator().manual_seed(2)) * 2 - 1
        head = model.modalities["action"].head
        with torch.no_grad():
            losses = torch.tensor([float(head.loss(z, target, generator=torch.Generator().manual_seed(s))) for s in range(200)])
        return float(losses.mean()), float(losses.std())

    mean_1, std_1 = spread(1)
    mean_8, std_8 = spread(8)
    assert abs(mean_8 - mean_1) < 3 * std_1 / 200**0.5 + 1e-6
    assert std_8 < 0.6 * std_1, (std_8, std_1)


@pytest.mark.parametrize("shared", [False, True])
def test_shared_noise_gives_a_chunks_actions_one_noise_draw(shared):
    """With ``shared_noise`` actions with equal conditions come out equal; with the default they differ."""
    spec = uva_kit.load_spec("pusht-tiny", [f"modalities.1.head.shared_noise={str(shared).lower()}"])
    model = uva_kit.build(spec).eval()
    head = model.modalities["action"].head
    one_condition = head.conditions(torch.randn(2, model.grid.length, 32, generator=torch.Generator().manual_seed(1)))[:, :1]
    head.conditions = lambda z: one_condition.expand(-1, 16, -1)
    with torch.no_grad():
        chunk = head.sample(None, model.sampler, generator=torch.Generator().manual_seed(2), steps=5)
    equal_to_first = torch.isclose(chunk, chunk[:, :1], atol=1e-6).all(dim=-1)
    assert bool(equal_to_first.all()) == shared
    assert not torch.equal(chunk[0], chunk[1])  # samples in a batch still get their own draws

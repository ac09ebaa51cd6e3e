"""The model's fast inference: attention backends through the dispatcher, sampling paths, Policy.compile()."""

from __future__ import annotations

import pytest
import torch
from policy_models import FUSED, POLICY_SPECS, build_model

import uva_kit
from uva_kit.attention import dispatch
from uva_kit.errors import UvaKitError
from uva_kit.model.cuda_graphs import GraphedPolicy
from uva_kit.ops.counting import HOST_TRANSFER_OPS, OpCounter
from uva_kit.registry import default_registry

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def available_backends(device: str) -> list[str]:
    probe = torch.zeros(1, 2, 4, 16, device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    registry = default_registry()
    return [n for n in registry.list("attention") if registry.get("attention", n).build().unsupported_reason(probe) is None]


def history(batch=2, seed=0):
    return torch.rand(batch, 4, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


INSTRUCTION = "push the T into the target"


POLICY_MODELS = pytest.mark.parametrize("kind", list(POLICY_SPECS))


def policy(model, generator: torch.Generator) -> uva_kit.Policy:
    return uva_kit.Policy(model, generator=generator, instruction=INSTRUCTION if model.prefix_modality else None)


def episode(model, steps: int = 10, device: str = "cpu") -> list[dict[str, torch.Tensor]]:
    """Random observations of one env (batch 1): the image and every stream the policy is given."""
    size = model.spec.layout.image_size
    observations = []
    for step in range(steps):
        generator = torch.Generator().manual_seed(step)
        obs = {"image": torch.rand(1, 3, size, size, generator=generator)}
        for name, key in model.policy_observations.items():
            obs[key] = torch.rand(1, model.modalities[name].dim, generator=generator)
        observations.append({key: value.to(device) for key, value in obs.items()})
    return observations


@pytest.mark.parametrize("device", DEVICES)
def test_every_available_attention_backend_gives_the_same_actions(tiny_model, device):
    model = tiny_model.to(device)
    frames = history().to(device)
    model.set_attention_backend("math")
    z_reference = model.policy_latents(frames)
    noise = model.sampler.draw_noise(2 * 16, 2, generator=torch.Generator().manual_seed(1)).to(device)
    reference = model.sample_actions(z_reference, noise=noise)
    backends = available_backends(device)
    assert "sdpa" in backends and "math" in backends
    for name in backends:
        model.set_attention_backend(name)
        assert model.attention_backend == name
        autocast = torch.autocast("cuda", torch.float16) if device == "cuda" and name in ("flash", "xformers") else None
        with autocast or torch.autocast("cpu", enabled=False):
            z = model.policy_latents(frames)
        tolerance = 2e-2 if autocast else 1e-4
        torch.testing.assert_close(z.float(), z_reference, rtol=tolerance, atol=tolerance)
        torch.testing.assert_close(model.sample_actions(z.float(), noise=noise), reference, rtol=tolerance, atol=tolerance)


def test_attention_backend_precedence_in_the_model(monkeypatch):
    monkeypatch.setenv(dispatch.ENV_VAR, "math")
    torch.manual_seed(0)
    model = uva_kit.build("pusht-tiny")
    assert model.attention_backend == "math"  # the environment variable beats the spec's sdpa
    model.set_attention_backend("sdpa")
    assert model.attention_backend == "sdpa"
    with dispatch.use("math"):
        assert model.attention_backend == "math"
    model.set_attention_backend("flash")
    with pytest.raises(UvaKitError, match="attention backend 'flash' cannot run"):
        model.predict_actions(history(1))


def test_predict_actions_samples_the_same_on_every_path(tiny_model):
    frames = history()
    results = {}
    for path in ("reference", "restructured") + (("fused",) if FUSED else ()):
        tiny_model.sampler.path = path
        results[path] = tiny_model.predict_actions(frames, generator=torch.Generator().manual_seed(5))
    for path, actions in results.items():
        torch.testing.assert_close(actions, results["reference"], rtol=1e-5, atol=1e-6, msg=path)
    tiny_model.sampler.path = "auto"
    noise = tiny_model.sampler.draw_noise(2 * 16, 2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(tiny_model.predict_actions(frames, action_noise=noise), results["reference"], rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not FUSED, reason="the C++ extension with the fused sampler is not built")
@POLICY_MODELS
def test_compiled_policy_on_cpu_runs_the_fused_sampler_and_acts_like_the_eager_one(kind, monkeypatch):
    """The fused path is the compiled policy's own: the model's direct calls keep its sampler path."""
    model = build_model(kind)
    observations = episode(model)
    eager = policy(model, torch.Generator().manual_seed(2))
    model.sampler.path = "reference"
    expected = torch.stack([eager.select_action(obs) for obs in observations])
    compiled = policy(model, torch.Generator().manual_seed(2)).compile()
    calls = []
    original = torch.ops.uva_kit.adaln_sample
    monkeypatch.setattr(torch.ops.uva_kit, "adaln_sample", lambda *a: calls.append(1) or original(*a))
    actions = torch.stack([compiled.select_action(obs) for obs in observations])
    assert len(calls) == 2  # replans at steps 0 and 8
    torch.testing.assert_close(actions, expected, rtol=1e-5, atol=1e-6)
    assert model.sampler.path == "reference"
    policy(model, torch.Generator()).select_action(observations[0])  # model.predict_actions, on the reference path
    assert len(calls) == 2


def test_compile_without_the_extension_says_what_to_do(tiny_model, monkeypatch):
    monkeypatch.setattr("uva_kit.sampler.fused.has_op", lambda name: False)
    with pytest.raises(UvaKitError, match="fused C\\+\\+ sampler, but the C\\+\\+ extension .* not built"):
        uva_kit.Policy(tiny_model).compile()


@pytest.mark.skipif(not FUSED, reason="the C++ extension with the fused sampler is not built")
def test_compile_of_a_model_in_another_dtype_says_to_convert_it(tiny_model):
    with pytest.raises(UvaKitError, match=r"runs in float32, got torch.float64. Convert the model with model.float\(\)"):
        uva_kit.Policy(tiny_model.double()).compile()


@POLICY_MODELS
@torch.no_grad()
def test_the_calls_a_cuda_graph_captures_copy_nothing_from_the_host(kind):
    """Frame encoding and backbone + action head, as GraphedPolicy captures them, issue no host-to-device
    copy or device sync (each would break CUDA-graph capture); counted here on the CPU."""
    model = build_model(kind)
    graphed = GraphedPolicy(model, bf16=False)
    layout = model.spec.layout
    frames = torch.rand(1, layout.history_frames, 3, layout.image_size, layout.image_size)
    inputs = {name: torch.rand(1, layout.history_frames, model.modalities[name].dim) for name in model.policy_observations}
    latents = model.encode_frames(frames)  # these three are made outside the graphs
    values = graphed.graph_inputs(latents, inputs, INSTRUCTION)
    noise = model.action_noise(1)

    def graphed_calls():
        return graphed._encode.fn(frames), graphed._predict(latents, noise, *values)

    graphed_calls()  # warm-up fills the caches, as CapturedCall's warm-up runs do
    with OpCounter() as counter:
        graphed_calls()
    assert counter.total > 0
    assert {name: counter.counts[name] for name in HOST_TRANSFER_OPS if counter.counts[name]} == {}
    eager = model.predict_actions(history_latents=latents, inputs=inputs, action_noise=noise,
                                  instruction=INSTRUCTION if model.prefix_modality else None)
    torch.testing.assert_close(graphed_calls()[1], eager, rtol=1e-5, atol=1e-6)


def test_graphed_policy_encodes_an_instruction_once_while_it_stays_the_same(monkeypatch):
    model = build_model("instructed")
    graphed = GraphedPolicy(model, bf16=False)
    encoded = []
    original = model.instruction_tokens
    monkeypatch.setattr(model, "instruction_tokens", lambda *args: encoded.append(args) or original(*args))
    one, two = torch.zeros(1, 4, 48, 4, 4), torch.zeros(2, 4, 48, 4, 4)
    first = graphed.graph_inputs(one, {}, INSTRUCTION)
    assert graphed.graph_inputs(one, {}, INSTRUCTION)[0] is first[0] and len(encoded) == 1
    assert graphed.graph_inputs(two, {}, INSTRUCTION)[0].shape[0] == 2 and len(encoded) == 2
    with pytest.raises(ValueError, match="reads an instruction: pass instruction="):
        graphed.graph_inputs(one, {}, None)


@pytest.mark.parametrize("kind", ["kl_f16-encoder", "patch-encoder"])
def test_graphed_encoding_gives_the_encoders_posterior(kind):
    """The encode graph returns what ``model.encode_posterior`` returns (moments of a sampling encoder,
    else latents), so the policy draws its latents outside the graph as it does eagerly."""
    model = build_model(kind)
    frames = torch.rand(1, 2, 3, model.spec.layout.image_size, model.spec.layout.image_size)
    graphed = GraphedPolicy(model, bf16=False)
    graphed._encode = graphed._encode.fn
    got, expected = graphed.encode(frames), model.encode_posterior(frames)
    assert (got.logvar is None) == (kind == "patch-encoder") == (expected.logvar is None)
    torch.testing.assert_close(got.mean, expected.mean)
    if expected.logvar is not None:
        torch.testing.assert_close(got.logvar, expected.logvar)


@POLICY_MODELS
def test_the_policy_acts_as_the_model_on_each_replanning_window(kind):
    """Each replanning gives predict_actions' chunk for the window's history frames, with the same draws:
    keeping encodings across calls changes nothing, and a sampling encoder's latents are drawn anew for all
    history slots at every replanning (as the original, which encodes them all each call), not reused."""
    model = build_model(kind)
    observations = episode(model, steps=20)
    acting = policy(model, torch.Generator().manual_seed(2))
    actions = torch.stack([acting.select_action(obs) for obs in observations])
    generator = torch.Generator().manual_seed(2)
    for start in range(0, len(observations), acting.n_action_steps):
        window = [observations[max(0, start + offset)] for offset in acting.history_offsets]
        inputs = {name: torch.stack([obs[key] for obs in window], dim=1) for name, key in model.policy_observations.items()}
        chunk = model.predict_actions(torch.stack([obs["image"] for obs in window], dim=1), inputs=inputs,
                                      instruction=acting.instruction, generator=generator)
        executed = actions[start:start + acting.n_action_steps]
        torch.testing.assert_close(executed, chunk[:, : len(executed)].transpose(0, 1), rtol=1e-5, atol=1e-5)


@POLICY_MODELS
def test_graphed_policy_acts_like_the_eager_one_over_an_episode_on_the_cpu(kind):
    """The CPU twin of the GPU test below: Policy driving GraphedPolicy (its captured functions called
    directly, fp32) over an episode acts like the eager policy with the same seed. It checks what the
    graphs are given from outside: posterior and action noise drawn from the policy's generator as the
    eager model draws them (shared per sample for pusht-small's shared_noise head), cached latents,
    instruction tokens."""
    model = build_model(kind)
    assert model.modalities["action"].head.shared_noise == (kind == "proprio")
    observations = episode(model)
    eager = policy(model, torch.Generator().manual_seed(2))
    expected = torch.stack([eager.select_action(obs) for obs in observations])
    graphed = policy(model, torch.Generator().manual_seed(2))
    graphed._graphed = GraphedPolicy(model, bf16=False)
    graphed._graphed._encode, graphed._graphed.actions = graphed._graphed._encode.fn, graphed._graphed.actions.fn
    actions = torch.stack([graphed.select_action(obs) for obs in observations])
    torch.testing.assert_close(actions, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@POLICY_MODELS
def test_compiled_policy_on_gpu_replays_cuda_graphs_close_to_eager(kind):
    model = build_model(kind).to("cuda")
    observations = episode(model, device="cuda")
    eager = policy(model, torch.Generator("cuda").manual_seed(2))
    expected = torch.stack([eager.select_action(obs) for obs in observations])
    # bf16 encoder and backbone: emulated on the CPU, it moves these models' actions by up to 0.03
    for bf16, tolerance in ((False, 1e-4), (True, 0.1)):
        compiled = policy(model, torch.Generator("cuda").manual_seed(2)).compile(bf16=bf16)
        actions = torch.stack([compiled.select_action(obs) for obs in observations])
        torch.testing.assert_close(actions, expected, rtol=tolerance, atol=tolerance)

"""Contract test mixins: subclass one in your plugin's tests to run uva_kit's checks on your component.

    from uva_kit.testing import ModalityContract

    class TestForce(ModalityContract):
        component = ("modality", "force")

        def modality_data(self, batch, generator):
            return {"contact_impulse": torch.randn(len(batch["actions"]), 16, 2, generator=generator)}

The fixtures they use (``uva_kit_component``) come with the ``uva_kit_testing`` pytest plugin, which
pytest loads automatically once uva_kit is installed.
"""

from __future__ import annotations

import warnings

import pytest

from uva_kit.testing.contexts import build_context
from uva_kit.testing.interfaces import check_documented, check_interface, check_spec_class


class ComponentContract:
    """Checks for any component: builds from its spec with its slot's context, honours the slot's
    interface, has a frozen round-tripping spec class, is documented and attributed to a distribution.

    Set ``component = (slot, name)``. Override ``make_spec`` when the default spec cannot be built
    as is (e.g. it needs a local file).
    """

    component: tuple[str, str]

    def make_spec(self, component):
        return component.default_spec()

    def test_builds_and_honours_its_slot_interface(self, uva_kit_component):
        import torch

        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = uva_kit_component.build(self.make_spec(uva_kit_component), **build_context(uva_kit_component.slot))
            check_interface(uva_kit_component.slot, built)

    def test_spec_class_is_frozen_and_round_trips(self, uva_kit_component):
        check_spec_class(uva_kit_component, self.make_spec(uva_kit_component))

    def test_is_documented_and_attributed(self, uva_kit_component):
        check_documented(uva_kit_component)


class HeadContract(ComponentContract):
    """A diffusion head: the component checks, plus seeded sampling is reproducible."""

    def test_seeded_sampling_is_reproducible(self, uva_kit_component):
        import torch

        import uva_kit
        from uva_kit.spec import DiffusionSpec
        from uva_kit.testing.contexts import GRID, WIDTH

        torch.manual_seed(0)
        head = uva_kit_component.build(self.make_spec(uva_kit_component), **build_context("head"))
        sampler = uva_kit.registry.get("sampler", "ddpm").build(diffusion=DiffusionSpec())
        z = torch.randn(2, GRID.length, WIDTH)
        first, second = (head.sample(z, sampler, torch.Generator().manual_seed(3), steps=3) for _ in range(2))
        assert torch.equal(first, second)


class ModalityContract(ComponentContract):
    """A stream modality, checked inside a real tiny model (``base_preset`` plus this modality).

    Implement ``modality_data(batch, generator) -> {data_key: tensor}`` (values for a batch of
    ``len(batch["actions"])`` samples, in batch units). ``modality_options`` are the modality's spec
    options in that model (e.g. a small head). The model's mixture gives the modality to
    ``forward_dynamics`` and, when ``predicts`` (it has a head), trains it in ``policy``.
    """

    base_preset = "pusht-tiny"
    modality_options: dict = {}
    predicts = True
    train_steps = 30
    batch_size = 4

    @pytest.fixture(autouse=True)
    def _one_thread(self):
        """Tiny models train fastest (and steadiest on a busy machine) on one thread."""
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(previous)

    def modality_data(self, batch: dict, generator) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement modality_data(batch, generator)")

    # ----------------------------------------------------------------------------------- helpers

    def model_spec(self, name: str):
        """``base_preset`` with this modality added to the model and to the modes."""
        from uva_kit.spec import load_spec, spec_from_dict, to_dict

        spec = to_dict(load_spec(self.base_preset))
        spec["modalities"].append({"type": name, **self.modality_options})
        modes = [{"mode": {"type": "forward_dynamics", "given": ["action", name]}}]
        if self.predicts:
            modes.append({"mode": {"type": "policy", "losses": ["action", name]}})
        spec["modes"] = modes
        return spec_from_dict(spec)

    def model_and_batch(self, name: str):
        """A tiny model with this modality (normalizers fitted to the batch) and a batch with its data."""
        import torch

        import uva_kit
        from uva_kit.testing.data import batch_stats, make_batch
        from uva_kit.train.loop import fit_normalizers

        spec = self.model_spec(name)
        torch.manual_seed(0)
        model = uva_kit.build(spec)
        batch = make_batch(self.batch_size, spec.layout.image_size, layout=spec.layout)
        batch.update(self.modality_data(batch, torch.Generator().manual_seed(1)))
        fit_normalizers(model, batch_stats(batch))
        return model, batch

    # ----------------------------------------------------------------------------------- tests

    def test_tokenizes_its_data_to_one_token_per_position(self, uva_kit_component):
        model, batch = self.model_and_batch(uva_kit_component.name)
        modality = model.modalities[uva_kit_component.name]
        assert modality.streams, "a modality checked by ModalityContract must fill at least one stream"
        prepared = modality.prepare(batch[modality.data_key])
        for stream in modality.streams:
            tokens = modality.embed(stream, prepared)
            assert tokens.shape == (self.batch_size, model.grid.length, model.backbone.width), stream

    def test_training_lowers_its_loss(self, uva_kit_component):
        import torch

        name = uva_kit_component.name
        model, batch = self.model_and_batch(name)
        mode = "policy" if self.predicts else "forward_dynamics"
        key = f"loss/{name}" if self.predicts else "loss"

        def fixed_loss() -> float:
            with torch.no_grad():
                return sum(model.compute_loss(batch, mode=mode, generator=torch.Generator().manual_seed(s))[1][key]
                           for s in range(4)) / 4

        before = fixed_loss()
        initial = {k: v.detach().clone() for k, v in model.modalities[name].named_parameters()}
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for step in range(self.train_steps):
            loss, _ = model.compute_loss(batch, mode=mode, generator=torch.Generator().manual_seed(100 + step))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        after = fixed_loss()
        trained = dict(model.modalities[name].named_parameters())
        # (the heads' zero-initialised output layers pass no gradient on the first step, so compare after training)
        assert any(not torch.equal(trained[k], initial[k]) for k in initial if not k.startswith("head.")), (
            f"training under mode '{mode}' never updated modality '{name}': is its stream used?"
        )
        assert after < 0.8 * before, f"{key} under mode '{mode}': {before:.4f} -> {after:.4f}"

    def test_forward_dynamics_takes_it(self, uva_kit_component):
        name = uva_kit_component.name
        model, batch = self.model_and_batch(name)
        value = batch[model.modalities[name].data_key]
        history, actions = batch["history_frames"], batch["actions"]
        frames = model.forward_dynamics(history, actions, inputs={name: value})
        assert frames.shape[:2] == history.shape[:2]
        with pytest.raises(ValueError, match=name):
            model.forward_dynamics(history, actions)

    def test_round_trips_through_save_and_load(self, uva_kit_component, tmp_path):
        import json

        import torch

        import uva_kit
        from uva_kit.plugins import BUILTIN_PLUGIN

        name = uva_kit_component.name
        model, batch = self.model_and_batch(name)
        uva_kit.save(model, tmp_path / "model")
        loaded = uva_kit.load(tmp_path / "model")
        saved_state, loaded_state = model.state_dict(), loaded.state_dict()
        assert saved_state.keys() == loaded_state.keys()
        assert all(torch.equal(saved_state[k], loaded_state[k]) for k in saved_state)
        provider = uva_kit_component.provider
        if provider.plugin != BUILTIN_PLUGIN:
            plugins = json.loads((tmp_path / "model" / "config.json").read_text())["plugins"]
            assert plugins[provider.plugin]["distribution"] == provider.distribution
        if self.predicts:
            outputs = [m.predict_modality(name, batch["history_frames"], generator=torch.Generator().manual_seed(0), steps=3)
                       for m in (model, loaded)]
            assert torch.equal(*outputs)
            modality = model.modalities[name]
            assert outputs[0].shape == modality.prepare(batch[modality.data_key]).shape

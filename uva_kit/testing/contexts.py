"""The small build context each slot's factories receive in the contract tests (docs/model.md, "Slot contracts")."""

from __future__ import annotations

from uva_kit.model.grid import TokenGrid

GRID = TokenGrid(frames=4, height=4, width=4, channels=4)
WIDTH = 16


def build_context(slot: str) -> dict:
    """Keyword arguments for ``registry.get(slot, name).build(spec, **context)`` at contract-test scale."""
    import uva_kit
    from uva_kit.modality.base import ModalityContext
    from uva_kit.spec import DiffusionSpec, LayoutSpec

    if slot == "backbone":
        return {"streams": 3, "grid": GRID, "attention": uva_kit.registry.get("attention", "sdpa").build(), "prefix_tokens": 0}
    if slot == "head":
        return {"in_channels": 2, "cond_dim": WIDTH, "grid": GRID, "num_outputs": 16, "diffusion": DiffusionSpec()}
    if slot == "sampler":
        return {"diffusion": DiffusionSpec()}
    if slot == "modality":
        text_encoder = uva_kit.registry.get("text_encoder", "task_embedding").build()
        return {"context": ModalityContext(width=WIDTH, layout=LayoutSpec(), grid=GRID, diffusion=DiffusionSpec(),
                                           text_encoder=text_encoder)}
    return {}

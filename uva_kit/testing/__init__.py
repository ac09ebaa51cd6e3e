"""uva_kit's conformance kit: the contract tests every component passes, for plugin authors to reuse.

    # tests/test_force_contract.py of a plugin distribution
    from uva_kit.testing import ModalityContract

    class TestForce(ModalityContract):
        component = ("modality", "force")
        def modality_data(self, batch, generator): ...

* ``ComponentContract`` / ``HeadContract`` / ``ModalityContract``: pytest mixins (``contracts``);
* ``build_context(slot)``, ``check_interface(slot, built)``, ``check_spec_class``, ``check_documented``:
  the checks themselves (``contexts``, ``interfaces``), also run on every built-in component;
* ``make_batch``, ``batch_stats``: tiny learnable batches and their normalizer statistics (``data``).

The fixtures come with the ``uva_kit_testing`` pytest plugin (``pytest_plugin``), loaded
automatically through the ``pytest11`` entry point.
"""

from uva_kit.testing.contexts import GRID, WIDTH, build_context
from uva_kit.testing.contracts import ComponentContract, HeadContract, ModalityContract
from uva_kit.testing.data import batch_stats, make_batch
from uva_kit.testing.interfaces import check_documented, check_interface, check_spec_class

__all__ = [
    "GRID", "WIDTH", "ComponentContract", "HeadContract", "ModalityContract", "batch_stats", "build_context",
    "check_documented", "check_interface", "check_spec_class", "make_batch",
]

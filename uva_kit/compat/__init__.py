"""Compatibility with other implementations: converting their checkpoints into uva_kit models.

``convert_original`` reads a checkpoint of the original UVA code (ShuangLI59/unified_video_action)
safely and writes a uva_kit model directory; see docs/compatibility.md.
"""

from uva_kit.compat.original import ConversionReport, convert_original, convert_state_dict, policy_state_dict
from uva_kit.compat.workspace import config_values, read_workspace

__all__ = ["ConversionReport", "config_values", "convert_original", "convert_state_dict", "policy_state_dict",
           "read_workspace"]

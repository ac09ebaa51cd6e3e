"""Spec overrides (``load_spec(name, overrides)`` or ``--set``) shared by tests: small variants of the presets."""

# pusht-tiny's modalities plus the language modality (4 prefix tokens; the text encoder defaults to task_embedding)
TINY_LANGUAGE_MODALITIES = (
    'modalities=[{type = "video", head = {type = "token", width = 48, depth = 1}}, '
    '{type = "action", head = {type = "chunk", width = 32, depth = 1}}, {type = "language", num_tokens = 4}]'
)

"""Foundation-model perception backends (SAM 2, OWLv2, Depth Anything v2, Qwen2.5-VL / litellm describers).

Weights come from a local path or a model id the user gives; nothing is fetched at import time. Heavy imports
(torch, transformers, sam2, litellm) happen inside the functions that need them.
"""

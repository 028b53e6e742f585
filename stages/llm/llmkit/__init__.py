"""llmkit: the real-model stage kit (issue 16, docs/real-models.md).

Loads Hugging Face checkpoints of the llama, qwen2 and qwen3 families from a
local directory (config.json, *.safetensors with an optional index,
tokenizer.json, tokenizer_config.json) with plain PyTorch, and runs weight
orthogonalization (Arditi et al. 2024) and the refusal evaluation on them.
Hugging Face transformers/safetensors/tokenizers are not available here (no
PyPI), so the kit carries its own small modules, each checked against an
independent reference in tests/llm. One module per concern:

  errors      KitError, the one error type every entry point reports
  jsonl       JSON-lines input files: one reader, errors with file and line
  runtime     torch set-up for a stage (threads from STUDY_THREADS, device)
  safetensors the file format: read (memory-mapped) and byte-stable write
  config      config.json -> ModelConfig, with unsupported fields refused
  checkpoint  a checkpoint directory: load/save with tensor names checked
  tiny        tiny random checkpoints of each family, for tests and rehearsals
  tokenizer   byte-level BPE from tokenizer.json (encode/decode)
  chat        chat templates from tokenizer_config.json (sandboxed jinja2)
  model       the decoder (3 families), KV cache, generation, hooks
  gguf        GGUF writer (llama.cpp's converter conventions), for tests
"""

"""Model directory, model card and lock: config, tokenizer and checkpoint files read without loading a model."""

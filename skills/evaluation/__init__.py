"""Evaluate a fine-tuned model against its base on held-out examples (Azure OpenAI Evals)."""

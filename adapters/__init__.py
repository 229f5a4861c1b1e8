"""LoRA personalization: datasets, training, export, evaluation and the adapter registry."""

"""Perception: voice activity, speech-to-text, text-to-speech and OCR on packaged models."""

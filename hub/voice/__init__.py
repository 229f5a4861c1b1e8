"""Voice and perception in the hub: transcripts, the voice assistant, OCR, Wyoming."""

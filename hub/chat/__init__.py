"""Chat turns: what the assistant knows and how it answers, for every way of chatting."""

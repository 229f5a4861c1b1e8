"""Running models: the ChatModel seam, its llama.cpp implementation, and the request scheduler."""

"""The hub's use of memory: the memory service, chat recall with citations, fact extraction."""

"""The indexes kept in step with the session files: the sync and its words and meaning phases, the
manifest, the full-text index, the vector segments and the background indexer."""

"""History in and out: exports to markdown, HTML and JSON, and importers from other tools."""

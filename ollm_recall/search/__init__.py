"""One question over both indexes: the first stage (fusion), the learned second stage, dates in
questions and snippets."""

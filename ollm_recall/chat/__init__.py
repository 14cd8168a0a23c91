"""Chatting with a local model server: the HTTP client, the chat loop, its tools and recall into context."""

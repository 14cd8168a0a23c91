"""The archive as tools for other agents: the read-only archive tools and the MCP server."""

"""Memory over MCP: the hub's MCP server and tools, and the stdio bridge of `hub mcp`
(the HTTP endpoint is hub/api/mcp_endpoint.py)."""

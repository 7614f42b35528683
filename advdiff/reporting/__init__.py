"""Reports (Markdown tables and figures) rebuilt from result files, never from a tracking server."""

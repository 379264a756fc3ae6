"""WebSocket order books (``lobflow collect --transport ws``): exact, gap-checked, recorded."""

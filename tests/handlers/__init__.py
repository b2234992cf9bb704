"""pyserial URL handlers for tests only (pyserial's own tests add theirs the same way)."""

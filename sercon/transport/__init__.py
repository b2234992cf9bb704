"""Byte pipes to consoles, behind one small interface (base.Transport)."""

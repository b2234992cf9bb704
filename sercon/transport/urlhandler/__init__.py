"""sercon's pyserial URL handlers (pyserial imports `protocol_<scheme>` from here)."""

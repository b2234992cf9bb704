"""Local stand-ins for consoles: machines sercon can talk to with no hardware and no Azure account."""

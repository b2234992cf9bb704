from sercon.transport.telnet import Serial  # noqa: F401 - pyserial finds the handler by this name

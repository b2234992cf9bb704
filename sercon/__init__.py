"""sercon: one serial console client for Azure VMs and local serial devices."""

__version__ = "0.1.0"

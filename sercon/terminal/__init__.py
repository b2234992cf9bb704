"""The interactive session and scripted use: raw terminal, escape menu, logging, pacing."""

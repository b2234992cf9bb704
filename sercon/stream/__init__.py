"""The console-stream toolkit every session kind shares (issue 19): escape sequences, the receive
pipeline of small sinks, the paced writer."""

"""Line-setting and session choices, kept apart so the CLI can offer them without importing the target logic."""

PARITIES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}
FLOWS = ("none", "rtscts", "xonxoff")
CLOUDS = ("AzureCloud", "AzureUSGovernment", "AzureChinaCloud")
LOG_FORMATS = ("text", "jsonl")
RESIZE = ("auto", "off")
PASTE_CHUNK_MIN = 16  # bytes: a smaller write of pasted input only costs time

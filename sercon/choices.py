"""Line-setting choices, kept apart so the CLI can offer them without importing the target logic."""

PARITIES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}
FLOWS = ("none", "rtscts", "xonxoff")

"""`sercon rescue`: reset a machine, stop it in GRUB, add a rescue parameter, boot to a root shell.

screen.py follows what the console draws; grub.py reads GRUB's menu and editor off it;
driver.py runs the steps, each with a deadline; modes.py names the rescue parameters.
"""

from sercon.cli import run

run()

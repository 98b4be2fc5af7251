"""A tiny package the sample installs into its task's venv."""
import sys


def hello(who):
    return f"hello {who}, from greeter 1.0 on Python {sys.version_info.major}.{sys.version_info.minor} in {sys.prefix}"

"""learn: turn what a program does into the smallest seccomp profile that still lets it run."""

__version__ = "0.1.0"

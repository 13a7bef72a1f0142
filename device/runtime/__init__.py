"""How the daemon lives under systemd: journald-friendly logs, sd_notify and the health file."""

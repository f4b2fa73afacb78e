"""The shared kernel: pure value types every service uses (Money, ids, Clock, calendar, instruments, events)."""

"""Node checks: each finding names the device and what to do."""

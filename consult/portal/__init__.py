"""The parent portal: share a signed report with guardians, verify them, show it."""

"""Staff access: PINs, lockout, staff sessions and the tamper-evident audit log."""

"""The kiosk's shell: navigation, the citizen's session, idle wipe, speech and help calls."""

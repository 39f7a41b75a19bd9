"""Municipal self-service kiosk: application core (no Kivy imports here except kiosk.ui.app)."""

__version__ = "0.1.0"

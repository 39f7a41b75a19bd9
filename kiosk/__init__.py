"""Municipal self-service kiosk: application core (no Kivy imports here except kiosk.app)."""

__version__ = "0.1.0"

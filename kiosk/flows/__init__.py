"""View-models: what each screen shows and does, without Kivy (tested with fakes)."""

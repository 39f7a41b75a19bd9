"""The Kivy edge: the app, its environment, the UI guard, the demo, the tour and the test driver."""

"""The picker handheld: presenters (plain Python), ``PickerSession`` for headless
pickers, and the Kivy app (``handheld_app.app``, imported only when the UI runs)."""

"""Icons, the style sheet and the .desktop file of the desktop app. A package only so that
importlib.resources can read them from a wheel and from an editable install alike."""

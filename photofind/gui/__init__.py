"""The desktop app: PySide6 widgets over the engine in photofind.core."""

import os

# PySide6 makes some of its types lazily, the first time a thread needs one, and that is not
# thread-safe: a thumbnail thread making a QImageReader while the GUI thread painted crashed
# the app (a segfault in 3 starts in 10 at 100k photos, benchmarks/gui_responsiveness.py
# --synthetic; none in 22 with this). Read when PySide6 is first imported, so it is set
# here, before any module of the app imports it.
os.environ["PYSIDE6_OPTION_LAZY"] = "0"

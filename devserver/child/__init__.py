"""Code that runs inside the app's process only.

Nothing here imports supervisor-side modules (watchdog, colorama, output):
the child's start-up cost is on every reload's critical path.
"""

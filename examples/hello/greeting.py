"""Edit this string and save: tdev restarts the app."""

GREETING = "Hello, world"

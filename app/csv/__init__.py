"""CSV as a kit (SPEC §5.6): encodings and detection, streaming downloads, the formula guard,
uploads read off the event loop and refused all or nothing with bounded row errors, and the sheet
declaration type. It knows no resource: each domain declares its sheet and plans its rows."""

from app.csv import messages  # noqa: F401  (registers the kit's codes)

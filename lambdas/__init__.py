"""Lambda handlers, one folder per function. The first land with the Trading REST API issue."""

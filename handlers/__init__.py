"""Lambda handlers of the airline services: one package per service plus `shared`.

Imported first by every handler, so it pauses the garbage collector for the cold
start before boto3 or Powertools load (handlers/shared/init_gc.py).
"""

from handlers.shared import init_gc

init_gc.pause()

"""``python -m hooks``: serve the hooks with gunicorn and ``hooks/gunicorn.conf.py``."""

import sys
from pathlib import Path

from gunicorn.app.wsgiapp import run

CONFIG = Path(__file__).with_name("gunicorn.conf.py")

if __name__ == "__main__":
    sys.argv = ["gunicorn", "-c", str(CONFIG), *sys.argv[1:], "hooks.app:app"]
    run()

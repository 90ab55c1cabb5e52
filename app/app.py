"""The seed's entrypoint: `python app/app.py` serves the shop at http://localhost:5000.

Starts embedded databases unless DATABASE_URL / MONGODB_URL are set (see README).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop.runner import main  # noqa: E402 - the project root must be importable first

if __name__ == "__main__":
    sys.exit(main())

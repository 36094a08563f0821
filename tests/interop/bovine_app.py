"""The bovine-herd server, as an ASGI app for Hypercorn (run by bovine's own venv).

``bovine_herd`` 0.5 has no module-level app: it configures a Quart app given to
``BovineHerd``. The database is ``BOVINE_DB_URL`` (a SQLite file of the test).
"""

import os

from bovine_herd import BovineHerd
from quart import Quart

app = Quart(__name__)
BovineHerd(app, db_url=os.environ["BOVINE_DB_URL"])

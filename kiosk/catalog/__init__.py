"""The trámite catalog: model and validation, sample data, signing, sync, search, interop.

Library modules log structured events; the NullHandler keeps Python's last-resort handler from
printing them on a CLI's stderr (commands print one clear line themselves), while an app that
configures logging (kiosk.core.logs.setup_logging) still receives every event.
"""

import logging

logging.getLogger("kiosk.catalog").addHandler(logging.NullHandler())
logging.getLogger("kiosk.sandbox").addHandler(logging.NullHandler())

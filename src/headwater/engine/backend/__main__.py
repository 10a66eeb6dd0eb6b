"""``python -m headwater.engine.backend FLOW_RUN_ID``: the process an agent starts per run."""

import sys

from headwater.engine.backend._main import main

sys.exit(main())

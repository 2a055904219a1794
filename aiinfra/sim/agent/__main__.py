"""``python -m aiinfra.sim.agent``: run the node agent (started by ``aiinfra sim up --process-nodes``)."""

import sys

from aiinfra.sim.agent.main import main

sys.exit(main())

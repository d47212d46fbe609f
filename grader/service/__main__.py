"""`python -m grader.service serve|token ...`."""

import sys

from grader.service.cli import main

sys.exit(main())

"""`python -m pytest_llm`."""

import sys

from pytest_llm.cli import main

sys.exit(main())

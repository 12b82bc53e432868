import sys

from rushline.cli import main

sys.exit(main())

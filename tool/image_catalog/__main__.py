import sys

from image_catalog.cli import main

sys.exit(main())

# SPDX-License-Identifier: GPL-2.0-only
from hvo_verify.cli import main

raise SystemExit(main())

from galaxyscope.cli import main

raise SystemExit(main())

from accessmon.ui.cli.app import main

main()

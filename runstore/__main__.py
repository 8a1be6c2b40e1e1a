from runstore.cli import main

main()

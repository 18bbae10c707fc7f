import CamRuntime

Launcher.main()

// camagent-endpoint: see EndpointCommand for the command line.
EndpointCommand.main()

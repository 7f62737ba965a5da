using PublishingPoint.Server.Hosting;

try
{
    await PublishingPointHosting.Create(args).RunAsync().ConfigureAwait(false);
    return 0;
}
catch (StartupRefusedException)
{
    // Already logged, one line per reason.
    return 2;
}

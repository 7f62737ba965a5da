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

/// <summary>The entry point, named for WebApplicationFactory&lt;Program&gt; in the tests.</summary>
public partial class Program;

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
catch (PublishingPoint.Server.Points.DataFolderInUseException e)
{
    // Logged by the host as it failed to start; said once more without the stack for whoever started it.
    await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
    return 2;
}

/// <summary>The entry point, named for WebApplicationFactory&lt;Program&gt; in the tests.</summary>
public partial class Program;

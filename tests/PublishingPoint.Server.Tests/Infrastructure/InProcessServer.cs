using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// The server in memory through WebApplicationFactory (ASP.NET Core's TestServer, no socket), with its own data folder:
/// for what a real socket is not the point of (API, routing, CORS, manifests, playlists). Tests that need Kestrel
/// (DirectSend, raw connections, players, ffmpeg) use <see cref="RunningServer"/>.
/// </summary>
public sealed class InProcessServer : WebApplicationFactory<Program>
{
    private readonly string[] _settings;

    public InProcessServer(params string[] settings)
    {
        DataPath = TempDirectory.Create("pp-inproc");
        _settings = ["PublishingPoint:DataPath=" + DataPath, "PublishingPoint:FinalizeGraceSeconds=0", "Serilog:MinimumLevel:Default=Warning", .. settings];
        Http = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
    }

    public string DataPath { get; }

    public HttpClient Http { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var setting in _settings)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            builder.UseSetting(setting[..equals], setting[(equals + 1)..]);
        }

        builder.ConfigureServices(services => services.AddSingleton(TimeProvider.System));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Http.Dispose();
        }

        base.Dispose(disposing);
    }
}

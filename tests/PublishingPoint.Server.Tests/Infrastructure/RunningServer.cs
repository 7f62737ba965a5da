using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>The real server (Kestrel) on 127.0.0.1 with a random port and its own data folder.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningServer(WebApplication app, string dataPath, Uri baseUrl)
    {
        _app = app;
        DataPath = dataPath;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DataPath { get; }

    public Uri BaseUrl { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    public static Task<RunningServer> StartAsync(string? dataPath = null, params string[] settings) => StartAsync(dataPath, null, settings);

    /// <summary>A server whose clock is <paramref name="time"/> (a FakeTimeProvider moves it on demand).</summary>
    public static Task<RunningServer> StartWithClockAsync(TimeProvider time, params string[] settings) =>
        StartAsync(null, services => services.AddSingleton(time), settings);

    public static async Task<RunningServer> StartAsync(string? dataPath, Action<IServiceCollection>? services, params string[] settings)
    {
        dataPath ??= TempDirectory.Create("pp-data");
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--PublishingPoint:DataPath={dataPath}",
            "--Serilog:MinimumLevel:Default=Warning",
            "--PublishingPoint:FinalizeGraceSeconds=0",
            .. settings,
        ];
        var app = PublishingPointHosting.Create(args, services);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new RunningServer(app, dataPath, new Uri(address + "/"));
    }

    public Uri Url(string relative) => new(BaseUrl, relative);

    private bool _disposed;

    /// <summary>Stops the server; a second call does nothing (a test may stop it early to restart on its data).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Http.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

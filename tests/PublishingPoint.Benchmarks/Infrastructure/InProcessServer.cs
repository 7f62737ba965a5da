using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Benchmarks.Infrastructure;

/// <summary>The real server (Kestrel on 127.0.0.1, random port) with its own data folder, as the tests start it.</summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InProcessServer(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(5) };
    }

    public Uri BaseUrl { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<InProcessServer> StartAsync(string dataPath, CancellationToken cancellationToken, params string[] settings)
    {
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--PublishingPoint:DataPath={dataPath}",
            "--Serilog:MinimumLevel:Default=Warning",
            "--PublishingPoint:FinalizeGraceSeconds=0",
            // Ingest speed is not what is measured; the fragments stay in memory either way.
            "--PublishingPoint:FsyncArchive=false",
            .. settings,
        ];
        var app = PublishingPointHosting.Create(args);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new InProcessServer(app, new Uri(address + "/"));
    }

    /// <summary>POSTs a body chunked (no Content-Length), as a live encoder does.</summary>
    public Task PostChunkedAsync(string relativeUrl, byte[] body, CancellationToken cancellationToken) =>
        Live.ChunkedPost.SendAsync(Http, relativeUrl, body, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
